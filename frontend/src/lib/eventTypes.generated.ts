// Generated from engine/event_types.py by `python manage.py write_event_types`: do not edit.
// make regenerates it before building or testing the frontend; tests/engine/test_event_types.py
// fails when this committed copy is stale.

/** The `type` of a RunEvent. */
export const EventType = {
  RUN_QUEUED: "run.queued",
  RUN_RUNNING: "run.running",
  RUN_WAITING: "run.waiting",
  RUN_SUCCEEDED: "run.succeeded",
  RUN_FAILED: "run.failed",
  RUN_CANCELLED: "run.cancelled",
  RUN_RETRIED: "run.retried",
  RUN_ESCALATED: "run.escalated",
  NODE_QUEUED: "node.queued",
  NODE_RUNNING: "node.running",
  NODE_SUCCEEDED: "node.succeeded",
  NODE_FAILED: "node.failed",
  NODE_CRASHED: "node.crashed",
  NODE_SKIPPED: "node.skipped",
  NODE_WAITING: "node.waiting",
  NODE_CANCELLED: "node.cancelled",
  NODE_RESUMED: "node.resumed",
  CHILDREN_OPENED: "children.opened",
  CHILD_STARTED: "child.started",
  CHILD_ENDED: "child.ended",
  BUDGET_ALERT: "budget.alert",
  AGENT_STEP: "agent.step",
} as const;
export type EventType = (typeof EventType)[keyof typeof EventType];

/** The `type` of a message sent to a run's or a workspace's sockets. */
export const LiveMessage = {
  RUN_HINT: "run.hint",
  RUN_UPDATED: "run.updated",
  APPROVAL_CREATED: "approval.created",
  APPROVAL_DECIDED: "approval.decided",
  APPROVAL_CLAIMED: "approval.claimed",
  KNOWLEDGE_DOCUMENT: "knowledge.document",
  BUDGET_ALERT: "budget.alert",
  TEXT_DELTA: "text.delta",
} as const;
export type LiveMessage = (typeof LiveMessage)[keyof typeof LiveMessage];

export type NodeStatus = "pending" | "running" | "succeeded" | "failed" | "crashed" | "skipped" | "waiting" | "cancelled";
export const NODE_STATUSES: readonly NodeStatus[] = ["pending", "running", "succeeded", "failed", "crashed", "skipped", "waiting", "cancelled"];

export type RunStatus = "queued" | "running" | "waiting" | "succeeded" | "failed" | "cancelled";
export const RUN_STATUSES: readonly RunStatus[] = ["queued", "running", "waiting", "succeeded", "failed", "cancelled"];

/** Run statuses nothing moves on from. */
export const ENDED_RUN_STATUSES: readonly RunStatus[] = ["succeeded", "failed", "cancelled"];

/** The status a node is in after each event (node.queued: ready again, so pending). */
export const NODE_STATUS_AFTER: Readonly<Partial<Record<EventType, NodeStatus>>> = {
  "node.queued": "pending",
  "node.running": "running",
  "node.succeeded": "succeeded",
  "node.failed": "failed",
  "node.crashed": "crashed",
  "node.skipped": "skipped",
  "node.waiting": "waiting",
  "node.cancelled": "cancelled",
};

/** The status a run is in after each event. */
export const RUN_STATUS_AFTER: Readonly<Partial<Record<EventType, RunStatus>>> = {
  "run.queued": "queued",
  "run.running": "running",
  "run.waiting": "waiting",
  "run.succeeded": "succeeded",
  "run.failed": "failed",
  "run.cancelled": "cancelled",
  "run.retried": "running",
};
