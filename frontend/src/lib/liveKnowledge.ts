// Keeps a knowledge base's document list current while documents are ingested. The workspace
// socket says a document of some knowledge base moved; the page re-fetches its list (server-
// rendered, progress bars included) when it is this page's knowledge base. Prompts only: the
// database is the truth, and a reconnect re-fetches in case prompts were lost meanwhile.
import { LiveMessage } from "./eventTypes.generated";
import { coalesce, followSocket } from "./liveRuns";

/** True for a prompt about a document of knowledge base `baseId`. */
export function isDocumentPrompt(data: unknown, baseId: number): boolean {
  if (typeof data !== "object" || data === null) return false;
  const { type, knowledge_base: base } = data as { type?: unknown; knowledge_base?: unknown };
  return type === LiveMessage.KNOWLEDGE_DOCUMENT && base === baseId;
}

/** The list's own address, not the address bar's: a form refused with 422 is shown at its POST address. */
export function documentsUrl(list: Pick<HTMLElement, "dataset">): string {
  return list.dataset.documentsUrl ?? "";
}

export function followKnowledgeBase(socketUrl: string, baseId: number, refresh: () => void): void {
  // 150 ms: an ingest moves through its stages in well under a second for small files, and the
  // page should still show each step without re-fetching once per embedding batch.
  const prompt = coalesce(refresh, 150);
  followSocket(socketUrl, prompt, (data) => {
    if (isDocumentPrompt(data, baseId)) prompt();
  });
}

/** Files dropped on `zone` go into its file input and the form is submitted. */
export function acceptDrops(zone: HTMLFormElement, input: HTMLInputElement): void {
  const stop = (event: DragEvent) => {
    event.preventDefault();
    event.stopPropagation();
  };
  zone.addEventListener("dragover", (event) => {
    stop(event);
    zone.classList.add("dragging");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (event) => {
    stop(event);
    zone.classList.remove("dragging");
    if (!event.dataTransfer || event.dataTransfer.files.length === 0) return;
    input.files = event.dataTransfer.files;
    zone.requestSubmit();
  });
}
