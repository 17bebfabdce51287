// Keeps a runs list current: the workspace socket says a run moved, and the list re-fetches its
// rows (the server renders them). Messages are only prompts; the rows come from the database.
import { LiveMessage } from "./eventTypes.generated";

const REFUSED = new Set([4401, 4403, 4404]);

/** The page's own address, filters kept; asked over htmx, the server answers with the rows alone. */
export function rowsUrl(location: Pick<Location, "pathname" | "search">): string {
  return `${location.pathname}${location.search}`;
}

export function isRunUpdate(data: unknown): boolean {
  return typeof data === "object" && data !== null && (data as { type?: unknown }).type === LiveMessage.RUN_UPDATED;
}

export function nextDelay(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(10_000, 500 * 2 ** attempt);
  return base / 2 + (base / 2) * random();
}

/** Calls `refresh` at most once per `wait` ms however many prompts arrive meanwhile. */
export function coalesce(refresh: () => void, wait: number): () => void {
  let timer: ReturnType<typeof setTimeout> | null = null;
  return () => {
    if (timer !== null) return;
    timer = setTimeout(() => {
      timer = null;
      refresh();
    }, wait);
  };
}

/** Keeps a socket to `socketUrl` open, reconnecting with backoff unless refused; calls
 * `onOpen` on every (re)connect, since prompts sent meanwhile were lost, and `onMessage` with
 * each parsed message. */
export function followSocket(socketUrl: string, onOpen: () => void, onMessage: (data: unknown) => void): void {
  let attempt = 0;
  const open = () => {
    const socket = new WebSocket(socketUrl);
    socket.onopen = () => {
      attempt = 0;
      onOpen();
    };
    socket.onmessage = (message) => onMessage(JSON.parse(message.data as string));
    socket.onclose = (event) => {
      if (!REFUSED.has(event.code)) setTimeout(open, nextDelay(attempt++));
    };
  };
  open();
}

export function followRuns(socketUrl: string, refresh: () => void): void {
  const prompt = coalesce(refresh, 250);
  followSocket(socketUrl, prompt, (data) => {
    if (isRunUpdate(data)) prompt();
  });
}
