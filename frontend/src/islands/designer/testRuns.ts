// Test runs from the designer: start one (whole draft, or from a node), then follow it with the
// run view's controller (REST snapshot + run socket) so the canvas recolours live.
import { csrfToken, sendJSON } from "../../lib/http";
import type { RunSnapshot } from "../../lib/runEvents";
import { RunController, socketUrlFor } from "../run-view/controller";

export interface TestRunApi {
  apiUrl: string;
  workflowId: number;
}

export function follow(api: TestRunApi, run: { id: number }, nodeIds: string[]): RunController {
  const controller = new RunController({
    apiUrl: `${api.apiUrl}/runs/${run.id}`,
    socketUrl: (after) => socketUrlFor(window.location, `/ws/runs/${run.id}/`, after),
    nodeIds,
  });
  controller.start();
  return controller;
}

export async function lastTestRun(api: TestRunApi): Promise<{ id: number } | null> {
  const page = await sendJSON<{ items: { id: number }[] }>(`${api.apiUrl}/runs?workflow=${api.workflowId}&trigger=test&limit=1`, "GET", undefined, "");
  return page.items[0] ?? null;
}

export async function startTestRun(api: TestRunApi, input: unknown, pin: boolean): Promise<RunSnapshot> {
  const token = csrfToken(document);
  if (pin) await sendJSON(`${api.apiUrl}/workflows/${api.workflowId}/sample-input`, "PUT", { input }, token);
  return sendJSON<RunSnapshot>(`${api.apiUrl}/workflows/${api.workflowId}/runs`, "POST", { input, draft: true }, token);
}

export async function runFromNode(api: TestRunApi, nodeId: string, previousRunId: number): Promise<RunSnapshot> {
  return sendJSON<RunSnapshot>(`${api.apiUrl}/workflows/${api.workflowId}/test-runs/from-node`, "POST", { node_id: nodeId, run_id: previousRunId }, csrfToken(document));
}

export interface RecentInput {
  runId: number;
  label: string;
  input: unknown;
}

/** The inputs of the workflow's last few runs, newest first, to pick a sample from. */
export async function recentInputs(api: TestRunApi, count = 5): Promise<RecentInput[]> {
  const page = await sendJSON<{ items: { id: number; trigger_kind: string; status: string }[] }>(
    `${api.apiUrl}/runs?workflow=${api.workflowId}&limit=${count}`,
    "GET",
    undefined,
    "",
  );
  const runs = await Promise.all(page.items.map((item) => sendJSON<RunSnapshot>(`${api.apiUrl}/runs/${item.id}`, "GET", undefined, "")));
  return runs.map((run) => ({ runId: run.id, label: `Run #${run.id} (${run.trigger_kind}, ${run.status})`, input: run.input }));
}

export interface RunSummary {
  id: number;
  status: string;
  trigger_kind: string;
  is_test: boolean;
  created_at: string;
  cost: string;
}

/** The workflow's most recent runs, test and production, newest first. */
export async function recentRuns(api: TestRunApi, count = 20): Promise<RunSummary[]> {
  const page = await sendJSON<{ items: RunSummary[] }>(`${api.apiUrl}/runs?workflow=${api.workflowId}&limit=${count}`, "GET", undefined, "");
  return page.items;
}
