import { afterEach, describe, expect, it, vi } from "vitest";
import { DraftSaver } from "./draftSaver";
import type { GraphV1 } from "./graph";

const EMPTY: GraphV1 = { schema_version: 1, nodes: [], edges: [] };
const ONE: GraphV1 = { schema_version: 1, nodes: [{ id: "start", type: "trigger" }], edges: [] };

function server(...answers: [number, unknown][]) {
  const sent: unknown[] = [];
  const impl = (async (_url: string, init: RequestInit) => {
    sent.push(JSON.parse(String(init.body)));
    const [status, body] = answers.shift() ?? [500, {}];
    return new Response(JSON.stringify(body), { status });
  }) as unknown as typeof fetch;
  return { sent, impl };
}

function saver(fetchImpl: typeof fetch) {
  return new DraftSaver({ url: "/api/v1/workflows/1/draft", token: () => "tok", revision: 3, graph: EMPTY, problems: [], fetchImpl, delayMs: 2500 });
}

afterEach(() => vi.useRealTimers());

describe("DraftSaver", () => {
  it("autosaves our graph with its revision after a quiet spell", async () => {
    vi.useFakeTimers();
    const { sent, impl } = server([200, { revision: 4, problems: [{ path: "nodes", code: "no_trigger", message: "x" }] }]);
    const draft = saver(impl);
    draft.changed(ONE);
    expect(draft.getState().status).toBe("unsaved");
    await vi.advanceTimersByTimeAsync(2000);
    expect(sent).toEqual([]);
    await vi.advanceTimersByTimeAsync(600);
    expect(sent).toEqual([{ graph: ONE, revision: 3 }]);
    expect(draft.getState()).toMatchObject({ status: "saved", revision: 4, checked: ONE });
    expect(draft.getState().problems).toHaveLength(1);
  });

  it("stops on a 409 and says so", async () => {
    const { sent, impl } = server([409, { error: { code: "http_409", message: "saved elsewhere" } }]);
    const draft = saver(impl);
    draft.changed(ONE);
    await draft.save();
    expect(draft.getState().status).toBe("conflict");
    expect(draft.getState().message).toMatch(/Reload/);
    draft.changed({ ...ONE });
    await draft.save();
    expect(sent).toHaveLength(1);
  });

  it("keeps the problems of a refused graph", async () => {
    const problems = [{ path: "nodes.0.id", code: "schema", message: "bad id" }];
    const { impl } = server([422, { error: { code: "invalid_graph", message: "The graph is invalid", details: { problems } } }]);
    const draft = saver(impl);
    draft.changed(ONE);
    await draft.save();
    expect(draft.getState()).toMatchObject({ status: "error", problems, checked: ONE });
  });
});
