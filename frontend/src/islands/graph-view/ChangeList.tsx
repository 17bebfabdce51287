import { shown, type GraphDiff } from "../../lib/diff";
import { sourceHandleOf, targetHandleOf, type GraphEdgeV1, type GraphNodeV1 } from "../../lib/graph";

function nodeName(node: GraphNodeV1): string {
  return `${node.label || node.id} (${node.type})`;
}

function edgeName(edge: GraphEdgeV1): string {
  return `${edge.source}.${sourceHandleOf(edge)} → ${edge.target}.${targetHandleOf(edge)}`;
}

function Group({ title, status, items }: { title: string; status: string; items: { key: string; text: string }[] }) {
  if (!items.length) return null;
  return (
    <section className="gv-group" data-diff={status}>
      <h3>{title}</h3>
      <ul>
        {items.map((item) => (
          <li key={item.key}>{item.text}</li>
        ))}
      </ul>
    </section>
  );
}

/** The same result as the canvas colours, as text: what a screen reader and a reviewer read. */
export function ChangeList({ diff }: { diff: GraphDiff }) {
  return (
    <section className="gv-changes card" aria-label="List of changes">
      <h2>Changes</h2>
      <Group title="Nodes added" status="added" items={diff.added.map((node) => ({ key: node.id, text: nodeName(node) }))} />
      <Group title="Nodes removed" status="removed" items={diff.removed.map((node) => ({ key: node.id, text: nodeName(node) }))} />
      {diff.changed.length ? (
        <section className="gv-group" data-diff="changed">
          <h3>Nodes changed</h3>
          <ul>
            {diff.changed.map((change) => (
              <li key={change.id} data-changed-node={change.id}>
                {change.label} ({change.type})
                <table className="table gv-fields">
                  <thead>
                    <tr>
                      <th scope="col">Field</th>
                      <th scope="col">Before</th>
                      <th scope="col">After</th>
                    </tr>
                  </thead>
                  <tbody>
                    {change.changes.map((field) => (
                      <tr key={field.path} data-path={field.path}>
                        <td>
                          <code>{field.path}</code>
                        </td>
                        <td className="gv-before">
                          <code>{shown(field.before)}</code>
                        </td>
                        <td className="gv-after">
                          <code>{shown(field.after)}</code>
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </li>
            ))}
          </ul>
        </section>
      ) : null}
      <Group title="Edges added" status="added" items={diff.addedEdges.map((edge) => ({ key: edge.id, text: edgeName(edge) }))} />
      <Group title="Edges removed" status="removed" items={diff.removedEdges.map((edge) => ({ key: edge.id, text: edgeName(edge) }))} />
    </section>
  );
}
