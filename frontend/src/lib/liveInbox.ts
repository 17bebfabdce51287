// Keeps the review inbox current and drives it from the keyboard. The workspace socket says an
// approval appeared or was decided; the page re-fetches its list (server-rendered) and, when the
// open item is the one that moved, its card. Messages are only prompts; the database is the truth.
import { ENDED_RUN_STATUSES, LiveMessage } from "./eventTypes.generated";
import { coalesce, followSocket } from "./liveRuns";

const PROMPTS = new Set<unknown>([LiveMessage.APPROVAL_CREATED, LiveMessage.APPROVAL_DECIDED, LiveMessage.APPROVAL_CLAIMED]);
const ENDED = new Set<unknown>(ENDED_RUN_STATUSES);

export type InboxKeyAction = "next" | "previous" | "approve" | "edit" | "reject";

/** The page's own address, scope and sort kept; asked over htmx, the server answers with the list alone. */
export function listUrl(location: Pick<Location, "pathname" | "search">): string {
  return `${location.pathname}${location.search}`;
}

/** True for prompts that can change the list: an approval moved, or a run ended (its item leaves). */
export function isInboxPrompt(data: unknown): boolean {
  if (typeof data !== "object" || data === null) return false;
  const { type, status } = data as { type?: unknown; status?: unknown };
  if (PROMPTS.has(type)) return true;
  return type === LiveMessage.RUN_UPDATED && ENDED.has(status);
}

/** The approval id a prompt is about, if any. */
export function approvalOf(data: unknown): number | null {
  if (typeof data !== "object" || data === null) return null;
  const id = (data as { approval?: unknown }).approval;
  return typeof id === "number" ? id : null;
}

/** What a key press means, or null; keys typed into a field belong to the field. */
export function keyAction(key: string, targetTag: string, modified: boolean): InboxKeyAction | null {
  if (modified || ["INPUT", "TEXTAREA", "SELECT"].includes(targetTag.toUpperCase())) return null;
  return ({ j: "next", k: "previous", a: "approve", e: "edit", r: "reject" } as Record<string, InboxKeyAction>)[key] ?? null;
}

/** The item to open after `current` in `ids` (direction +1 or -1); the first when none is open. */
export function neighbour(ids: readonly string[], current: string, direction: 1 | -1): string | null {
  if (ids.length === 0) return null;
  const at = ids.indexOf(current);
  if (at === -1) return direction === 1 ? ids[0] : ids[ids.length - 1];
  const next = at + direction;
  return next >= 0 && next < ids.length ? ids[next] : null;
}

export function followInbox(socketUrl: string, refresh: () => void, onApproval: (id: number) => void): void {
  const prompt = coalesce(refresh, 250);
  followSocket(socketUrl, prompt, (data) => {
    if (!isInboxPrompt(data)) return;
    prompt();
    const id = approvalOf(data);
    if (id !== null) onApproval(id);
  });
}
