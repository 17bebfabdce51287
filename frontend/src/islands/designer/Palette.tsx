// Node types by category with a search box. Drag one onto the canvas, or press Enter / click
// to add it in the middle of the view.
import { useMemo, useState } from "react";
import { PanelLeftClose } from "lucide-react";
import { paletteGroups, type NodeKind } from "../../lib/nodeKinds";
import { categoryOf, KindIcon } from "./look";

export const KIND_MIME = "application/x-switchyard-kind";

export function Palette({ kinds, onAdd, onClose }: { kinds: NodeKind[]; onAdd: (kind: NodeKind) => void; onClose: () => void }) {
  const [search, setSearch] = useState("");
  const groups = useMemo(() => paletteGroups(kinds, search), [kinds, search]);
  return (
    <aside className="dz-palette dz-side" aria-label="Node palette">
      <div className="dz-side-head">
        <h2>Nodes</h2>
        <button type="button" className="dz-icon-button" onClick={onClose} aria-label="Hide the node palette" title="Hide the node palette">
          <PanelLeftClose size={18} aria-hidden="true" />
        </button>
      </div>
      <label className="dz-search">
        <span className="visually-hidden">Search node types</span>
        <input type="search" placeholder="Search nodes…" value={search} onChange={(event) => setSearch(event.target.value)} />
      </label>
      {groups.length ? null : <p className="muted small">No node type matches “{search}”.</p>}
      {groups.map((group) => (
        <section key={group.category} aria-label={group.category}>
          <h3>{group.category}</h3>
          <ul>
            {group.kinds.map((kind) => (
              <li key={kind.kind}>
                <button
                  type="button"
                  className="dz-palette-item"
                  draggable
                  data-kind={kind.kind}
                  title={kind.description}
                  aria-label={`Add ${kind.label}: ${kind.description}`}
                  onDragStart={(event) => {
                    event.dataTransfer.setData(KIND_MIME, kind.kind);
                    event.dataTransfer.effectAllowed = "copy";
                  }}
                  onClick={() => onAdd(kind)}
                >
                  <span className="dz-palette-icon" data-category={categoryOf(kind.kind, kind.category)}>
                    <KindIcon kind={kind.kind} />
                  </span>
                  <span className="dz-palette-text">
                    <strong>{kind.label}</strong>
                    <span className="muted small">{kind.description}</span>
                  </span>
                </button>
              </li>
            ))}
          </ul>
        </section>
      ))}
    </aside>
  );
}
