// The keyboard shortcuts overlay (press ?).
import { useEffect, useRef } from "react";

export const SHORTCUTS: [string, string][] = [
  ["Ctrl/⌘ Z", "Undo"],
  ["Ctrl/⌘ Shift Z, Ctrl Y", "Redo"],
  ["Ctrl/⌘ C / V", "Copy / paste the selection (also into another workflow)"],
  ["Ctrl/⌘ A", "Select everything"],
  ["Delete, Backspace", "Delete the selection"],
  ["Ctrl/⌘ S", "Save now"],
  ["Shift + drag, Ctrl/⌘ click", "Select several"],
  ["/, Ctrl/⌘ K", "Add a node: after the selected node (connected), else at the pointer"],
  ["] and [", "Select the next / previous node along the flow"],
  ["Tab, Enter", "Move between nodes, select one"],
  ["Arrow keys", "Move the selected nodes"],
  ["N", "Add a sticky note"],
  ["L", "Auto-layout"],
  ["F", "Fit the view"],
  ["H", "Open or close the run history"],
  ["?", "This help"],
  ["Escape", "Close this help, clear the selection"],
];

export function Help({ onClose }: { onClose: () => void }) {
  const close = useRef<HTMLButtonElement>(null);
  useEffect(() => close.current?.focus(), []);
  return (
    <div className="dz-help" role="dialog" aria-modal="true" aria-labelledby="dz-help-title" onKeyDown={(event) => event.key === "Escape" && onClose()}>
      <div className="card">
        <h2 id="dz-help-title">Keyboard shortcuts</h2>
        <table className="table">
          <tbody>
            {SHORTCUTS.map(([keys, what]) => (
              <tr key={keys}>
                <th scope="row">
                  <kbd>{keys}</kbd>
                </th>
                <td>{what}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <button type="button" ref={close} onClick={onClose}>
          Close
        </button>
      </div>
    </div>
  );
}
