// A WebSocket that reconnects with exponential backoff and jitter, except after the close codes
// that mean "don't bother" (not signed in, forbidden, not found). The URL is rebuilt for every
// attempt so the caller can put its latest position (?after=seq) in it.

export const FATAL_CLOSE_CODES: Readonly<Record<number, string>> = {
  4401: "You are not signed in. Sign in again to follow this run live.",
  4403: "You do not have access to this run.",
  4404: "This run does not exist.",
};

export const BACKOFF_BASE_MS = 500;
export const BACKOFF_MAX_MS = 10_000;

/** Delay before reconnect attempt `attempt` (0-based): min(max, base * 2^attempt), then a
 * random point in its upper half, so many clients dropped at once do not return together. */
export function backoffDelay(attempt: number, random: () => number = Math.random, base = BACKOFF_BASE_MS, max = BACKOFF_MAX_MS): number {
  const ceiling = Math.min(max, base * 2 ** Math.max(0, attempt));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

export interface DisconnectInfo {
  code: number;
  /** Set for the close codes that end reconnecting. */
  fatalMessage: string | null;
  /** Milliseconds until the next attempt; null when it will not reconnect. */
  retryInMs: number | null;
}

export interface SocketHandlers {
  onOpen?: () => void;
  onMessage: (text: string) => void;
  onDisconnect?: (info: DisconnectInfo) => void;
}

/** The part of WebSocket this class uses (a test double can implement just this). */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: Event) => void) | null;
  onmessage: ((event: MessageEvent) => void) | null;
  onclose: ((event: CloseEvent) => void) | null;
  onerror: ((event: Event) => void) | null;
}

export interface SocketOptions {
  createSocket?: (url: string) => SocketLike;
  random?: () => number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
}

const OPEN = 1;

export class ReconnectingSocket {
  private socket: SocketLike | null = null;
  private attempt = 0;
  private timer: unknown = null;
  private stopped = false;
  private readonly createSocket: (url: string) => SocketLike;
  private readonly random: () => number;
  private readonly setTimer: (fn: () => void, ms: number) => unknown;
  private readonly clearTimer: (handle: unknown) => void;

  constructor(
    private readonly url: () => string,
    private readonly handlers: SocketHandlers,
    options: SocketOptions = {},
  ) {
    this.createSocket = options.createSocket ?? ((target) => new WebSocket(target));
    this.random = options.random ?? Math.random;
    this.setTimer = options.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
    this.clearTimer = options.clearTimer ?? ((handle) => clearTimeout(handle as ReturnType<typeof setTimeout>));
  }

  start(): void {
    this.stopped = false;
    if (!this.socket && this.timer === null) this.connect();
  }

  /** Forget earlier failures (call once the server has proved healthy, e.g. on its hello). */
  resetBackoff(): void {
    this.attempt = 0;
  }

  /** Connect now instead of waiting for the backoff timer (e.g. the browser came back online). */
  reconnectNow(): void {
    if (this.stopped || this.socket || this.timer === null) return;
    this.clearTimer(this.timer);
    this.timer = null;
    this.connect();
  }

  send(message: unknown): boolean {
    if (!this.socket || this.socket.readyState !== OPEN) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) this.clearTimer(this.timer);
    this.timer = null;
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      socket.onopen = socket.onmessage = socket.onerror = socket.onclose = null;
      socket.close(1000, "page left");
    }
  }

  private connect(): void {
    let socket: SocketLike;
    try {
      socket = this.createSocket(this.url());
    } catch {
      this.scheduleReconnect(1006);
      return;
    }
    this.socket = socket;
    socket.onopen = () => this.handlers.onOpen?.();
    socket.onmessage = (event) => {
      if (typeof event.data === "string") this.handlers.onMessage(event.data);
    };
    socket.onerror = () => {
      // Always followed by a close event, which decides what happens next.
    };
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      const fatalMessage = FATAL_CLOSE_CODES[event.code] ?? null;
      if (fatalMessage || this.stopped) {
        this.stopped = true;
        this.handlers.onDisconnect?.({ code: event.code, fatalMessage, retryInMs: null });
        return;
      }
      this.scheduleReconnect(event.code);
    };
  }

  private scheduleReconnect(code: number): void {
    const delay = backoffDelay(this.attempt, this.random);
    this.attempt += 1;
    this.timer = this.setTimer(() => {
      this.timer = null;
      if (!this.stopped) this.connect();
    }, delay);
    this.handlers.onDisconnect?.({ code, fatalMessage: null, retryInMs: delay });
  }
}
