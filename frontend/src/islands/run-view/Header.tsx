import { formatCost, formatDateTime, formatDuration } from "../../lib/format";
import { durationBetween, isRunEnded, type RunStatus, type RunViewState } from "../../lib/runEvents";
import type { RunAction } from "./controller";

export function versionLabel(run: { version_number: number | null; is_test: boolean }): string {
  if (run.version_number === null || run.version_number === undefined) return run.is_test ? "draft (test)" : "draft";
  return run.is_test ? `v${run.version_number} (test)` : `v${run.version_number}`;
}

const ACTIVE: RunStatus[] = ["queued", "running", "waiting"];

interface HeaderProps {
  runId: string;
  state: RunViewState;
  canEdit: boolean;
  busy: RunAction | null;
  actionError: string;
  onAction: (action: RunAction) => void;
}

export function Header({ runId, state, canEdit, busy, actionError, onAction }: HeaderProps) {
  const { run, status } = state;
  const shownStatus = status ?? "loading";
  const ended = isRunEnded(status);
  const runDuration = run?.started_at ? durationBetween(run.started_at, run.finished_at) : null;
  const cancellable = status !== null && ACTIVE.includes(status);
  const retryable = status === "failed" || status === "cancelled";
  return (
    <header className="rv-header">
      <div className="rv-header-main">
        <span className={`status status-${shownStatus}`} data-run-status={status ?? ""}>
          {shownStatus}
        </span>
        <span className="rv-title">
          <strong className="rv-workflow">{run?.workflow_name ?? ""}</strong>
          {run ? <span className="badge rv-version">{versionLabel(run)}</span> : null}
          <span className="muted rv-run-id">Run #{run?.id ?? runId}</span>
        </span>
        <dl className="rv-facts">
          {run?.trigger_kind ? (
            <div>
              <dt>Trigger</dt>
              <dd>{run.trigger_kind}</dd>
            </div>
          ) : null}
          {run?.created_at ? (
            <div>
              <dt>Created</dt>
              <dd>
                <time dateTime={run.created_at}>{formatDateTime(run.created_at)}</time>
              </dd>
            </div>
          ) : null}
          {ended && runDuration !== null ? (
            <div>
              <dt>Duration</dt>
              <dd>{formatDuration(runDuration)}</dd>
            </div>
          ) : null}
          <div>
            <dt>Cost</dt>
            <dd className="rv-cost" data-cost={run ? String(run.cost) : ""}>
              {run ? formatCost(run.cost) : "…"}
            </dd>
          </div>
        </dl>
        {canEdit ? (
          <div className="rv-actions" aria-busy={busy !== null}>
            <button type="button" className="button small danger" disabled={!cancellable || busy !== null} onClick={() => onAction("cancel")}>
              Cancel run
            </button>
            <button type="button" className="button small" disabled={!retryable || busy !== null} onClick={() => onAction("retry")}>
              Retry from failed node
            </button>
            <button type="button" className="button small" disabled={!run || busy !== null} onClick={() => onAction("rerun")}>
              Re-run
            </button>
            <button type="button" className="button small" disabled={!run || busy !== null} onClick={() => onAction("rerun-latest")}>
              Re-run on latest version
            </button>
          </div>
        ) : null}
      </div>
      {actionError ? (
        <p className="error rv-action-error" role="alert">
          {actionError}
        </p>
      ) : null}
      {run && status === "failed" && run.error ? <p className="rv-run-error">{run.error}</p> : null}
      {run?.escalation_reason ? (
        <p className="rv-escalation">
          <strong>Escalated:</strong> {run.escalation_reason}
        </p>
      ) : null}
    </header>
  );
}
