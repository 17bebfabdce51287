// The designer's toolbar: save state, edit commands, links to the versions and runs pages, and
// the banners for a conflicting save or graph-wide problems.
import type { SaveState } from "../../lib/draftSaver";
import type { LayoutDirection } from "../../lib/layout";

const SAVE_TEXT: Record<SaveState["status"], string> = {
  saved: "All changes saved",
  unsaved: "Unsaved changes",
  saving: "Saving…",
  conflict: "Not saved: edited elsewhere",
  error: "Not saved",
};

export interface ToolbarActions {
  save: () => void;
  undo: () => void;
  redo: () => void;
  layout: () => void;
  addNote: () => void;
  validate: () => void;
  extract: () => void;
  fitView: () => void;
  help: () => void;
  history: () => void;
}

export interface ToolbarProps {
  save: SaveState;
  canEdit: boolean;
  canUndo: boolean;
  canRedo: boolean;
  /** Nodes are selected: "Extract into sub-workflow" can move them. */
  canExtract: boolean;
  versionsUrl: string;
  runsUrl: string;
  on: ToolbarActions;
  title: string;
  listUrl: string;
  direction: LayoutDirection;
  onDirection: (direction: LayoutDirection) => void;
  historyOpen: boolean;
}

export function Toolbar({ save, canEdit, canUndo, canRedo, canExtract, versionsUrl, runsUrl, on, title, listUrl, direction, onDirection, historyOpen }: ToolbarProps) {
  return (
    <>
      <div className="dz-toolbar" role="toolbar" aria-label="Designer">
        {listUrl ? (
          <a className="dz-back" href={listUrl} title="All workflows">
            Workflows
          </a>
        ) : null}
        <h1 className="dz-title">{title}</h1>
        <span className={`dz-save dz-save-${save.status}`} role="status" data-save-state={save.status}>
          {canEdit ? SAVE_TEXT[save.status] : "Read only: your role cannot edit"}
        </span>
        {canEdit ? (
          <>
            <button type="button" onClick={on.save} disabled={save.status === "saved" || save.status === "conflict"}>
              Save
            </button>
            <button type="button" onClick={on.undo} disabled={!canUndo} aria-keyshortcuts="Control+Z">
              Undo
            </button>
            <button type="button" onClick={on.redo} disabled={!canRedo} aria-keyshortcuts="Control+Shift+Z">
              Redo
            </button>
            <span className="dz-group">
              <button type="button" onClick={on.layout} aria-keyshortcuts="L">
                Auto-layout
              </button>
              <label>
                <span className="visually-hidden">Layout direction</span>
                <select value={direction} onChange={(event) => onDirection(event.target.value as LayoutDirection)}>
                  <option value="LR">left to right</option>
                  <option value="TB">top to bottom</option>
                </select>
              </label>
            </span>
            <button type="button" onClick={on.addNote}>
              Add note
            </button>
            <button type="button" onClick={on.extract} disabled={!canExtract} title="Move the selected nodes into a new workflow called from their place">
              Extract into sub-workflow
            </button>
          </>
        ) : null}
        <button type="button" onClick={on.validate}>
          Validate
        </button>
        <button type="button" onClick={on.fitView}>
          Fit view
        </button>
        <button type="button" onClick={on.help} aria-label="Keyboard shortcuts">
          ?
        </button>
        <span className="dz-spacer" />
        <button type="button" onClick={on.history} aria-expanded={historyOpen} aria-keyshortcuts="H">
          History
        </button>
        <a href={versionsUrl}>Versions</a>
        <a href={runsUrl}>Runs</a>
      </div>
      {save.status === "conflict" || save.status === "error" ? (
        <div className={`dz-banner ${save.status === "conflict" ? "dz-conflict" : "error"}`} role="alert">
          <span>{save.message}</span>
          {save.status === "conflict" ? (
            <button type="button" onClick={() => window.location.reload()}>
              Reload
            </button>
          ) : null}
        </div>
      ) : null}
    </>
  );
}
