// The run view's live state outside React: loads the REST snapshot, follows the run socket,
// performs the effects the pure reducer (src/lib/runEvents.ts) asks for, and publishes an
// immutable view for useSyncExternalStore, at most once per animation frame.

import { ApiError, csrfToken, sendJSON } from "../../lib/http";
import {
  applySnapshot,
  checkResume,
  historyRow,
  initialState,
  mergeHistory,
  missingHistoryAfter,
  parseMessage,
  receiveDelta,
  receiveEvent,
  receiveHello,
  RESUME_TIMEOUT_MS,
  type Effect,
  type RunSnapshot,
  type RunViewState,
} from "../../lib/runEvents";
import { backoffDelay, ReconnectingSocket, type SocketOptions } from "../../lib/socket";

export type ConnectionState = "connecting" | "live" | "reconnecting" | "closed";

export interface ViewState {
  run: RunViewState;
  connection: ConnectionState;
  /** Why the socket will not reconnect (signed out, forbidden, no such run). */
  connectionMessage: string;
  /** The first snapshot could not be loaded. */
  loadError: string | null;
  /** Earlier events could not be loaded, so the timeline starts later than seq 1. */
  historyUnavailable: boolean;
}

export type RunAction = "cancel" | "retry" | "rerun" | "rerun-latest";

const ACTION_PATHS: Record<RunAction, string> = {
  cancel: "/cancel",
  retry: "/retry",
  rerun: "/rerun",
  "rerun-latest": "/rerun?latest=true",
};

const DETAILS_THROTTLE_MS = 1000;
const HISTORY_MAX_PAGES = 50;
const FATAL_HTTP = new Set([401, 403, 404]);

interface EventsPage {
  events: { seq: number; type?: string; event?: string; node_id?: string; payload?: Record<string, unknown>; created_at?: string; at?: string }[];
  next_after: number;
  has_more: boolean;
}

export interface ControllerOptions {
  apiUrl: string;
  /** The socket URL for a connection that wants every event after `after`. */
  socketUrl: (after: number) => string;
  nodeIds: string[];
  fetchImpl?: typeof fetch;
  token?: () => string;
  now?: () => number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
  random?: () => number;
  createSocket?: SocketOptions["createSocket"];
  /** How publishing is deferred; defaults to the next animation frame. */
  schedule?: (fn: () => void) => void;
}

function defaultSchedule(fn: () => void): void {
  if (typeof requestAnimationFrame === "function" && typeof document !== "undefined" && !document.hidden) requestAnimationFrame(fn);
  else setTimeout(fn, 16);
}

export function socketUrlFor(location: Pick<Location, "protocol" | "host">, path: string, after: number): string {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${path}${path.includes("?") ? "&" : "?"}after=${after}`;
}

export class RunController {
  private view: ViewState;
  private published: ViewState;
  private listeners = new Set<() => void>();
  private flushPending = false;
  private socket: ReconnectingSocket | null = null;
  private running = false;
  private snapshotInFlight = false;
  private snapshotAgain = false;
  private lastDetailsFetch = -Infinity;
  private detailsTimer: unknown = null;
  private historyInFlight = false;
  private historyTried = new Set<number>();
  private timers = new Set<unknown>();
  private loadAttempt = 0;
  private readonly fetchImpl: typeof fetch;
  private readonly now: () => number;
  private readonly setTimer: (fn: () => void, ms: number) => unknown;
  private readonly clearTimer: (handle: unknown) => void;
  private readonly schedule: (fn: () => void) => void;
  private readonly onOnline = () => this.socket?.reconnectNow();

  constructor(private readonly options: ControllerOptions) {
    this.fetchImpl = options.fetchImpl ?? ((input, init) => fetch(input, init));
    this.now = options.now ?? (() => Date.now());
    this.setTimer = options.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
    this.clearTimer = options.clearTimer ?? ((handle) => clearTimeout(handle as ReturnType<typeof setTimeout>));
    this.schedule = options.schedule ?? defaultSchedule;
    this.view = {
      run: initialState(options.nodeIds),
      connection: "connecting",
      connectionMessage: "",
      loadError: null,
      historyUnavailable: false,
    };
    this.published = this.view;
  }

  // --- useSyncExternalStore -------------------------------------------------------------

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getView = (): ViewState => this.published;

  /** The current state, not yet published (for tests and effects). */
  current(): ViewState {
    return this.view;
  }

  private update(change: Partial<ViewState>): void {
    this.view = { ...this.view, ...change };
    if (this.flushPending) return;
    this.flushPending = true;
    this.schedule(() => {
      this.flushPending = false;
      if (this.published === this.view) return;
      this.published = this.view;
      for (const listener of this.listeners) listener();
    });
  }

  // --- lifecycle ---------------------------------------------------------------------------

  start(): void {
    if (this.running) return;
    this.running = true;
    if (typeof window !== "undefined") window.addEventListener("online", this.onOnline);
    void this.initialLoad();
  }

  stop(): void {
    this.running = false;
    if (typeof window !== "undefined") window.removeEventListener("online", this.onOnline);
    this.socket?.stop();
    this.socket = null;
    for (const timer of this.timers) this.clearTimer(timer);
    this.timers.clear();
    this.detailsTimer = null;
  }

  private later(fn: () => void, ms: number): unknown {
    const handle = this.setTimer(() => {
      this.timers.delete(handle);
      if (this.running) fn();
    }, ms);
    this.timers.add(handle);
    return handle;
  }

  private async initialLoad(): Promise<void> {
    try {
      const snapshot = await this.getJSON<RunSnapshot>(this.options.apiUrl);
      if (!this.running) return;
      this.update({ run: applySnapshot(this.view.run, snapshot), loadError: null });
      this.openSocket();
      void this.loadHistory();
    } catch (error) {
      if (!this.running) return;
      const fatal = error instanceof ApiError && FATAL_HTTP.has(error.status);
      this.update({ loadError: `Could not load this run: ${messageOf(error)}`, connection: fatal ? "closed" : this.view.connection });
      if (!fatal) this.later(() => void this.initialLoad(), backoffDelay(this.loadAttempt++, this.options.random));
    }
  }

  private openSocket(): void {
    this.socket = new ReconnectingSocket(
      () => this.options.socketUrl(this.view.run.lastSeq),
      {
        onMessage: (text) => this.onMessage(text),
        onDisconnect: (info) => {
          if (!this.running) return;
          if (info.fatalMessage) this.update({ connection: "closed", connectionMessage: info.fatalMessage });
          else this.update({ connection: "reconnecting" });
        },
      },
      { createSocket: this.options.createSocket, random: this.options.random, setTimer: this.options.setTimer, clearTimer: this.options.clearTimer },
    );
    this.socket.start();
  }

  // --- socket messages ------------------------------------------------------------------

  private onMessage(text: string): void {
    if (!this.running) return;
    const message = parseMessage(text);
    if (!message) return;
    if (message.type === "hello") {
      this.socket?.resetBackoff();
      this.update({ run: receiveHello(this.view.run), connection: "live", connectionMessage: "" });
      return;
    }
    if (message.type === "text.delta") {
      const run = receiveDelta(this.view.run, message);
      if (run !== this.view.run) this.update({ run });
      return;
    }
    const step = receiveEvent(this.view.run, message, this.now());
    if (step.state !== this.view.run) this.update({ run: step.state });
    this.perform(step.effects);
  }

  private perform(effects: Effect[]): void {
    for (const effect of effects) {
      if (effect.type === "resume") {
        this.socket?.send({ type: "resume", after: effect.after });
        this.later(() => {
          const step = checkResume(this.view.run, this.now());
          if (step.state !== this.view.run) this.update({ run: step.state });
          this.perform(step.effects);
        }, RESUME_TIMEOUT_MS);
      } else {
        void this.refetchSnapshot();
      }
    }
  }

  // --- REST -------------------------------------------------------------------------------

  private getJSON<T>(url: string): Promise<T> {
    return sendJSON<T>(url, "GET", undefined, "", this.fetchImpl);
  }

  /** Fetch the snapshot again; overlapping requests collapse into one more after the current. */
  async refetchSnapshot(): Promise<void> {
    if (this.snapshotInFlight) {
      this.snapshotAgain = true;
      return;
    }
    this.snapshotInFlight = true;
    this.lastDetailsFetch = this.now();
    try {
      const snapshot = await this.getJSON<RunSnapshot>(this.options.apiUrl);
      if (this.running) this.adoptRun(snapshot);
    } catch {
      // The socket keeps statuses current; outputs will come with the next refetch.
    } finally {
      this.snapshotInFlight = false;
      if (this.snapshotAgain && this.running) {
        this.snapshotAgain = false;
        void this.refetchSnapshot();
      }
    }
  }

  /** Merge a run body from the API (a refetch, or the answer to cancel or retry). */
  adoptRun(snapshot: RunSnapshot): void {
    this.update({ run: applySnapshot(this.view.run, snapshot) });
    void this.loadHistory();
  }

  /** Inputs and outputs arrive only with snapshots: refresh when events have moved past the
   * newest one, at most once a second (with a trailing call, so the last change is seen). */
  refreshDetails(): void {
    if (!this.running || this.view.run.snapshotSeq >= this.view.run.lastSeq || this.detailsTimer !== null) return;
    const wait = this.lastDetailsFetch + DETAILS_THROTTLE_MS - this.now();
    if (wait <= 0) {
      void this.refetchSnapshot();
      return;
    }
    this.detailsTimer = this.later(() => {
      this.detailsTimer = null;
      this.refreshDetails();
    }, wait);
  }

  /** Fill the timeline with events the snapshot covered (they are not replayed on the socket). */
  private async loadHistory(): Promise<void> {
    if (this.historyInFlight) return;
    const after = missingHistoryAfter(this.view.run);
    if (after === null || this.historyTried.has(after)) return;
    this.historyTried.add(after);
    this.historyInFlight = true;
    try {
      let cursor = after;
      for (let page = 0; page < HISTORY_MAX_PAGES && cursor < this.view.run.lastSeq; page++) {
        const body = await this.getJSON<EventsPage>(`${this.options.apiUrl}/events?after=${cursor}`);
        if (!this.running) return;
        this.update({ run: mergeHistory(this.view.run, body.events.map(historyRow)) });
        if (!body.has_more || body.next_after <= cursor) break;
        cursor = body.next_after;
      }
    } catch {
      if (this.running) this.update({ historyUnavailable: true });
    } finally {
      this.historyInFlight = false;
    }
    // A snapshot that arrived meanwhile may have opened a new hole.
    if (this.running && missingHistoryAfter(this.view.run) !== after) void this.loadHistory();
  }

  /** POST a run action. Resolves to the URL to navigate to (re-runs), or null. */
  async act(action: RunAction): Promise<string | null> {
    const token = (this.options.token ?? (() => csrfToken(document)))();
    const body = await sendJSON<RunSnapshot>(`${this.options.apiUrl}${ACTION_PATHS[action]}`, "POST", undefined, token, this.fetchImpl);
    if (action === "rerun" || action === "rerun-latest") return `/runs/${body.id}/`;
    this.adoptRun(body);
    return null;
  }
}

export function messageOf(error: unknown): string {
  if (error instanceof Error && error.message) return error.message;
  return "something went wrong";
}
