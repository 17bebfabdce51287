// The quick-add picker: a search box over the node types, grouped by category, driven by the
// keyboard (arrows, Enter, Escape) or the mouse. Opened by a "+" on an output or an edge, or by
// `/` and Ctrl/⌘ K, at the pointer.
import { useEffect, useMemo, useRef, useState } from "react";
import { paletteGroups, type NodeKind } from "../../lib/nodeKinds";
import { categoryOf, KindIcon } from "./look";

export interface NodePickerProps {
  kinds: NodeKind[];
  /** Where it opens, in window pixels; kept inside the window. */
  at: { x: number; y: number };
  /** What the new node will be connected to, said above the search box. */
  title: string;
  onPick: (kind: NodeKind) => void;
  onClose: () => void;
}

const WIDTH = 320;
const HEIGHT = 380;

export function NodePicker({ kinds, at, title, onPick, onClose }: NodePickerProps) {
  const [search, setSearch] = useState("");
  const [active, setActive] = useState(0);
  const groups = useMemo(() => paletteGroups(kinds, search), [kinds, search]);
  const flat = useMemo(() => groups.flatMap((group) => group.kinds), [groups]);
  const list = useRef<HTMLUListElement>(null);
  const box = useRef<HTMLDivElement>(null);
  const current = flat[Math.min(active, flat.length - 1)];

  useEffect(() => setActive(0), [search]);
  // Closing gives the focus back to where it was (the "+" pressed), unless the pick moved it.
  useEffect(() => {
    const before = document.activeElement as HTMLElement | null;
    return () => {
      if (before?.isConnected && (document.activeElement === document.body || document.activeElement === null)) before.focus();
    };
  }, []);
  useEffect(() => {
    list.current?.querySelector('[aria-selected="true"]')?.scrollIntoView({ block: "nearest" });
  }, [active]);
  useEffect(() => {
    const away = (event: PointerEvent) => {
      if (box.current && !box.current.contains(event.target as Node)) onClose();
    };
    window.addEventListener("pointerdown", away, true);
    return () => window.removeEventListener("pointerdown", away, true);
  }, [onClose]);

  const left = Math.max(8, Math.min(at.x, window.innerWidth - WIDTH - 8));
  const top = Math.max(8, Math.min(at.y, window.innerHeight - HEIGHT - 8));
  const optionId = (kind: NodeKind) => `dz-pick-${kind.kind}`;

  return (
    <div
      ref={box}
      className="dz-picker"
      role="dialog"
      aria-label="Add a node"
      style={{ left, top, width: WIDTH, maxHeight: HEIGHT }}
      onKeyDown={(event) => {
        if (event.key === "ArrowDown" || event.key === "ArrowUp") {
          event.preventDefault();
          const step = event.key === "ArrowDown" ? 1 : -1;
          setActive((index) => (flat.length ? (Math.min(index, flat.length - 1) + step + flat.length) % flat.length : 0));
        } else if (event.key === "Enter") {
          event.preventDefault();
          if (current) onPick(current);
        } else if (event.key === "Escape") {
          event.preventDefault();
          event.stopPropagation();
          onClose();
        }
      }}
    >
      <p className="dz-picker-title small muted">{title}</p>
      <input
        type="search"
        autoFocus
        role="combobox"
        aria-label="Search node types to add"
        aria-expanded="true"
        aria-controls="dz-picker-list"
        aria-activedescendant={current ? optionId(current) : undefined}
        placeholder="Search nodes…"
        value={search}
        onChange={(event) => setSearch(event.target.value)}
      />
      <ul id="dz-picker-list" ref={list} role="listbox" aria-label="Node types">
        {groups.map((group) => [
          <li key={`g-${group.category}`} role="presentation" className="dz-picker-group">
            {group.category}
          </li>,
          ...group.kinds.map((kind) => (
            <li
              key={kind.kind}
              id={optionId(kind)}
              role="option"
              aria-selected={kind === current}
              data-kind={kind.kind}
              className="dz-picker-item"
              onPointerEnter={() => setActive(flat.indexOf(kind))}
              onClick={() => onPick(kind)}
            >
              <span className="dz-palette-icon" data-category={categoryOf(kind.kind, kind.category)}>
                <KindIcon kind={kind.kind} />
              </span>
              <span className="dz-palette-text">
                <strong>{kind.label}</strong>
                <span className="muted small">{kind.description}</span>
              </span>
            </li>
          )),
        ])}
      </ul>
      {flat.length ? null : <p className="muted small">No node type matches “{search}”.</p>}
    </div>
  );
}
