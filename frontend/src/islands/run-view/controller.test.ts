import { beforeEach, describe, expect, it } from "vitest";
import { FakeClock, FakeSocket } from "../../lib/fakes.test-utils";
import type { RunSnapshot } from "../../lib/runEvents";
import { RunController, socketUrlFor } from "./controller";

const API = "/api/v1/runs/42";

function snapshot(overrides: Partial<RunSnapshot> = {}): RunSnapshot {
  return {
    id: 42, workflow_id: 3, workflow_name: "Triage", version_number: 2, status: "running", trigger_kind: "api", is_test: false,
    input: {}, output: null, escalation_reason: "", error: "", cost: "0.000000", created_at: "2026-11-22T02:00:00Z",
    started_at: "2026-11-22T02:00:00Z", finished_at: null, last_seq: 3,
    nodes: [{ node_id: "a", node_type: "transform", status: "running", attempt: 1, handle: "", started_at: "2026-11-22T02:00:01Z" }],
    ...overrides,
  };
}

type Route = (init: RequestInit) => { status: number; body: unknown };

class FakeApi {
  calls: { url: string; method: string; headers: Record<string, string> }[] = [];
  routes = new Map<string, Route>();

  on(method: string, url: string, route: Route): this {
    this.routes.set(`${method} ${url}`, route);
    return this;
  }

  count(method: string, url: string): number {
    return this.calls.filter((call) => call.method === method && call.url === url).length;
  }

  fetch = (async (url: string, init: RequestInit) => {
    const method = init.method ?? "GET";
    this.calls.push({ url, method, headers: init.headers as Record<string, string> });
    const route = this.routes.get(`${method} ${url}`);
    const { status, body } = route ? route(init) : { status: 404, body: { error: { code: "not_found", message: "No route" } } };
    return new Response(JSON.stringify(body), { status });
  }) as unknown as typeof fetch;
}

const flush = () => new Promise((resolve) => setTimeout(resolve, 0));
const event = (seq: number, name: string, node_id = "", payload: Record<string, unknown> = {}) => ({
  type: "event", seq, event: name, node_id, payload, at: new Date(Date.UTC(2026, 10, 22, 2, 0, seq)).toISOString(),
});
const history = (...seqs: number[]) => ({
  events: seqs.map((seq) => ({ seq, type: "node.queued", node_id: "a", payload: {}, created_at: "2026-11-22T02:00:00Z" })),
  next_after: seqs[seqs.length - 1] ?? 0,
  has_more: false,
});

describe("RunController", () => {
  let api: FakeApi;
  let clock: FakeClock;
  let controller: RunController;

  beforeEach(() => {
    FakeSocket.all = [];
    api = new FakeApi().on("GET", API, () => ({ status: 200, body: snapshot() })).on("GET", `${API}/events?after=0`, () => ({ status: 200, body: history(1, 2, 3) }));
    clock = new FakeClock();
    controller = new RunController({
      apiUrl: API,
      socketUrl: (after) => `ws://h/ws/runs/42/?after=${after}`,
      nodeIds: ["a", "b"],
      fetchImpl: api.fetch,
      token: () => "tok",
      now: () => clock.now,
      setTimer: clock.setTimer,
      clearTimer: clock.clearTimer,
      random: () => 1,
      createSocket: (url) => new FakeSocket(url),
      schedule: (fn) => fn(),
    });
  });

  async function started() {
    controller.start();
    await flush();
    const socket = FakeSocket.latest();
    socket.serverOpen();
    socket.serverSend({ type: "hello", run: 42, last_seq: 3 });
    return socket;
  }

  it("loads the snapshot, then follows the socket from its last_seq", async () => {
    const socket = await started();
    expect(socket.url).toBe("ws://h/ws/runs/42/?after=3");
    let view = controller.getView();
    expect(view.connection).toBe("live");
    expect(view.run.nodes.a.status).toBe("running");
    expect(view.run.timeline.map((r) => r.seq)).toEqual([1, 2, 3]); // history backfilled
    socket.serverSend(event(4, "node.succeeded", "a"));
    socket.serverSend(event(4, "node.succeeded", "a"));
    socket.serverSend(event(5, "node.running", "b"));
    view = controller.getView();
    expect(view.run.lastSeq).toBe(5);
    expect(view.run.timeline.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(view.run.nodes.b.status).toBe("running");
  });

  it("sends a resume on a gap and refetches when it is not filled within 2 s", async () => {
    const socket = await started();
    socket.serverSend(event(6, "node.succeeded", "a"));
    expect(socket.sent).toEqual([{ type: "resume", after: 3 }]);
    expect(controller.getView().run.lastSeq).toBe(3);
    expect(api.count("GET", API)).toBe(1);
    clock.advance(2000);
    await flush();
    expect(api.count("GET", API)).toBe(2);
  });

  it("does not refetch when the resend fills the gap", async () => {
    const socket = await started();
    socket.serverSend(event(5, "node.succeeded", "a"));
    socket.serverSend(event(4, "node.succeeded", "a"));
    socket.serverSend(event(5, "node.running", "b"));
    clock.advance(5000);
    await flush();
    expect(api.count("GET", API)).toBe(1);
    expect(controller.getView().run.lastSeq).toBe(5);
  });

  it("refetches the snapshot once when the run ends", async () => {
    const socket = await started();
    api.on("GET", API, () => ({ status: 200, body: snapshot({ status: "succeeded", last_seq: 5, cost: "0.0042", output: { answer: "hi" } }) }));
    socket.serverSend(event(4, "node.succeeded", "a"));
    socket.serverSend(event(5, "run.succeeded"));
    await flush();
    expect(api.count("GET", API)).toBe(2);
    const view = controller.getView();
    expect(view.run.status).toBe("succeeded");
    expect(view.run.run?.cost).toBe("0.0042");
    expect(view.run.run?.output).toEqual({ answer: "hi" });
  });

  it("shows reconnecting and resumes from the last applied seq", async () => {
    const socket = await started();
    socket.serverSend(event(4, "node.succeeded", "a"));
    socket.serverClose(1006);
    expect(controller.getView().connection).toBe("reconnecting");
    clock.advance(500);
    const next = FakeSocket.latest();
    expect(next).not.toBe(socket);
    expect(next.url).toBe("ws://h/ws/runs/42/?after=4");
    next.serverOpen();
    next.serverSend({ type: "hello", run: 42, last_seq: 4 });
    expect(controller.getView().connection).toBe("live");
  });

  it("stops and explains on 4403", async () => {
    const socket = await started();
    socket.serverClose(4403);
    const view = controller.getView();
    expect(view.connection).toBe("closed");
    expect(view.connectionMessage).toMatch(/access/);
    clock.advance(60_000);
    expect(FakeSocket.all).toHaveLength(1);
  });

  it("reports a run that cannot be loaded and opens no socket", async () => {
    api.on("GET", API, () => ({ status: 404, body: { error: { code: "not_found", message: "No such run" } } }));
    controller.start();
    await flush();
    expect(controller.getView().loadError).toMatch(/No such run/);
    expect(FakeSocket.all).toHaveLength(0);
  });

  it("posts actions with the CSRF token; a re-run resolves to the new run's page", async () => {
    await started();
    api.on("POST", `${API}/rerun?latest=true`, () => ({ status: 202, body: snapshot({ id: 43, last_seq: 0 }) }));
    expect(await controller.act("rerun-latest")).toBe("/runs/43/");
    const post = api.calls.find((call) => call.method === "POST")!;
    expect(post.headers["X-CSRFToken"]).toBe("tok");
    api.on("POST", `${API}/cancel`, () => ({ status: 202, body: snapshot({ status: "cancelled", last_seq: 6 }) }));
    expect(await controller.act("cancel")).toBeNull();
    expect(controller.getView().run.status).toBe("cancelled");
    api.on("POST", `${API}/retry`, () => ({ status: 409, body: { error: { code: "conflict", message: "The run has not failed" } } }));
    await expect(controller.act("retry")).rejects.toThrow("The run has not failed");
  });

  it("builds socket URLs for http and https pages", () => {
    expect(socketUrlFor({ protocol: "https:", host: "a.example" }, "/ws/runs/42/", 17)).toBe("wss://a.example/ws/runs/42/?after=17");
    expect(socketUrlFor({ protocol: "http:", host: "localhost:8000" }, "/ws/runs/42/", 0)).toBe("ws://localhost:8000/ws/runs/42/?after=0");
  });
});
