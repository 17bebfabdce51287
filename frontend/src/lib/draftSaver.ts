// Saving the draft: our graph JSON v1 with the revision it was edited from (PUT .../draft).
// Autosaves after a quiet spell; a save made elsewhere meanwhile answers 409 and stops saving
// until the page is reloaded, so one editor never silently overwrites another.

import { ApiError, sendJSON } from "./http";
import type { GraphV1 } from "./graph";
import type { Problem } from "./problems";

export type SaveStatus = "saved" | "unsaved" | "saving" | "conflict" | "error";

export interface SaveState {
  status: SaveStatus;
  message: string;
  revision: number;
  /** The problems of the last saved or checked graph, and that graph (their paths index into it). */
  problems: Problem[];
  checked: GraphV1;
}

export const AUTOSAVE_DELAY_MS = 2500;

interface DraftOut {
  revision: number;
  problems: Problem[];
}

export interface SaverOptions {
  url: string;
  token: () => string;
  revision: number;
  graph: GraphV1;
  problems: Problem[];
  fetchImpl?: typeof fetch;
  delayMs?: number;
}

export class DraftSaver {
  private state: SaveState;
  private saved: GraphV1;
  private latest: GraphV1;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private inFlight: Promise<void> | null = null;
  private listeners = new Set<() => void>();

  constructor(private readonly options: SaverOptions) {
    this.saved = options.graph;
    this.latest = options.graph;
    this.state = { status: "saved", message: "", revision: options.revision, problems: options.problems, checked: options.graph };
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getState = (): SaveState => this.state;

  private set(change: Partial<SaveState>): void {
    this.state = { ...this.state, ...change };
    for (const listener of this.listeners) listener();
  }

  /** The graph changed: save it after a quiet spell. */
  changed(graph: GraphV1): void {
    this.latest = graph;
    if (this.state.status === "conflict") return;
    if (graph === this.saved) {
      if (this.state.status === "unsaved") this.set({ status: "saved" });
      return;
    }
    if (this.state.status !== "saving") this.set({ status: "unsaved", message: "" });
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.save(), this.options.delayMs ?? AUTOSAVE_DELAY_MS);
  }

  get dirty(): boolean {
    return this.latest !== this.saved;
  }

  /** Save now (Ctrl-S, before a test run); resolves when the latest graph is saved or refused. */
  async save(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    while (this.inFlight) await this.inFlight;
    if (this.state.status === "conflict" || this.latest === this.saved) return;
    this.inFlight = this.send(this.latest);
    try {
      await this.inFlight;
    } finally {
      this.inFlight = null;
    }
  }

  private async send(graph: GraphV1): Promise<void> {
    this.set({ status: "saving", message: "" });
    try {
      const out = await sendJSON<DraftOut>(this.options.url, "PUT", { graph, revision: this.state.revision }, this.options.token(), this.options.fetchImpl);
      this.saved = graph;
      this.set({ status: graph === this.latest ? "saved" : "unsaved", revision: out.revision, problems: out.problems, checked: graph });
      if (graph !== this.latest) this.changed(this.latest);
    } catch (error) {
      if (error instanceof ApiError && error.status === 409) {
        this.set({ status: "conflict", message: "Someone else saved this workflow since you opened it. Reload to get their version; your unsaved changes here will be lost." });
      } else if (error instanceof ApiError && error.status === 422) {
        const problems = ((error.details as { problems?: Problem[] } | undefined)?.problems ?? []) as Problem[];
        this.set({ status: "error", message: `Not saved: ${error.message}`, problems, checked: graph });
      } else {
        this.set({ status: "error", message: `Not saved: ${error instanceof Error ? error.message : String(error)}` });
      }
    }
  }

  /** Server-side check of a graph without saving it. */
  async validate(validateUrl: string, graph: GraphV1): Promise<Problem[]> {
    const problems = await sendJSON<Problem[]>(validateUrl, "POST", { graph }, this.options.token(), this.options.fetchImpl);
    this.set({ problems, checked: graph });
    return problems;
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
