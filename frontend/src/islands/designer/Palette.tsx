// Node types by category with a search box. Drag one onto the canvas, or press Enter / click
// to add it in the middle of the view.
import { useMemo, useState } from "react";
import { paletteGroups, type NodeKind } from "../../lib/nodeKinds";

export const KIND_MIME = "application/x-switchyard-kind";

export function Palette({ kinds, onAdd }: { kinds: NodeKind[]; onAdd: (kind: NodeKind) => void }) {
  const [search, setSearch] = useState("");
  const groups = useMemo(() => paletteGroups(kinds, search), [kinds, search]);
  return (
    <aside className="dz-palette card" aria-label="Node palette">
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
                  <strong>{kind.label}</strong>
                  <span className="muted small">{kind.description}</span>
                </button>
              </li>
            ))}
          </ul>
        </section>
      ))}
    </aside>
  );
}
