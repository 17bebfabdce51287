import { describe, expect, it } from "vitest";
import { createDesignerStore, edgeKeys } from "./designerStore";
import { FlowCache, type EditorFlowNode } from "./editorFlow";
import type { GraphV1 } from "./graph";
import type { NodeKind } from "./nodeKinds";
import { downstreamOf, insertNode, kindsFor, neighbourOf } from "./quickAdd";

function kind(name: string, extra: Partial<NodeKind> = {}): NodeKind {
  return { kind: name, label: name, category: "Logic", description: "", inputs: ["in"], outputs: ["out"], side_effect: false, is_trigger: false, params_schema: { type: "object", properties: {} }, ...extra };
}
const KINDS = [kind("trigger", { inputs: [], is_trigger: true }), kind("transform"), kind("condition", { outputs: ["true", "false"] }), kind("reply", { outputs: [] })];
const kinds = new Map(KINDS.map((k) => [k.kind, k]));
const SIZE = { width: 240, height: 72 };
const sizeOf = () => SIZE;

function chain(): GraphV1 {
  return {
    schema_version: 1,
    nodes: [
      { id: "start", type: "trigger", position: { x: 0, y: 0 } },
      { id: "route", type: "condition", position: { x: 310, y: 0 } },
      { id: "answer", type: "reply", position: { x: 620, y: 0 } },
      { id: "other", type: "reply", position: { x: 620, y: 300 } },
    ],
    edges: [
      { id: "e1", source: "start", source_handle: "out", target: "route", target_handle: "in" },
      { id: "e2", source: "route", source_handle: "true", target: "answer", target_handle: "in" },
    ],
  };
}

const overlaps = (graph: GraphV1) =>
  graph.nodes.flatMap((a, i) =>
    graph.nodes.slice(i + 1).filter((b) => Math.abs(a.position!.x - b.position!.x) < SIZE.width && Math.abs(a.position!.y - b.position!.y) < SIZE.height).map((b) => `${a.id}/${b.id}`),
  );

describe("quick add", () => {
  it("adds after an output, connected from that handle, beside its source and clear of other nodes", () => {
    const inserted = insertNode(chain(), kinds.get("transform")!, { kind: "after", source: "route", handle: "false" }, sizeOf)!;
    expect(inserted.id).toBe("transform_1");
    expect(edgeKeys(inserted.graph)).toContain("route.false->transform_1.in");
    const placed = inserted.graph.nodes.find((n) => n.id === "transform_1")!.position!;
    expect(placed.x).toBeGreaterThanOrEqual(310 + SIZE.width);
    expect(overlaps(inserted.graph)).toEqual([]);
  });

  it("inserts on an edge: rewires both sides and shifts what follows", () => {
    const inserted = insertNode(chain(), kinds.get("transform")!, { kind: "edge", edge: "e2" }, sizeOf)!;
    expect(edgeKeys(inserted.graph)).toEqual(["route.true->transform_1.in", "start.out->route.in", "transform_1.out->answer.in"].sort());
    const at = (id: string) => inserted.graph.nodes.find((n) => n.id === id)!.position!;
    expect(at("transform_1").x).toBeGreaterThan(at("route").x);
    expect(at("answer").x).toBeGreaterThanOrEqual(at("transform_1").x + SIZE.width);
    expect(at("other")).toEqual({ x: 620, y: 300 }); // not downstream: stays
    expect(overlaps(inserted.graph)).toEqual([]);
  });

  it("offers only kinds that fit: no trigger after an output, no dead end on an edge", () => {
    expect(kindsFor(KINDS, { kind: "after", source: "start", handle: "out" }).map((k) => k.kind)).toEqual(["transform", "condition", "reply"]);
    expect(kindsFor(KINDS, { kind: "edge", edge: "e1" }).map((k) => k.kind)).toEqual(["transform", "condition"]);
    expect(kindsFor(KINDS, { kind: "free", position: { x: 0, y: 0 } })).toHaveLength(4);
  });

  it("is one undo step in the store, with the new node selected", () => {
    const store = createDesignerStore(chain(), kinds);
    const id = store.getState().insert(kinds.get("transform")!, { kind: "edge", edge: "e1" }, sizeOf);
    expect(store.getState().selected).toEqual([id]);
    store.temporal.getState().undo();
    expect(edgeKeys(store.getState().graph)).toEqual(edgeKeys(chain()));
    expect(store.getState().graph.nodes.map((n) => n.position)).toEqual(chain().nodes.map((n) => n.position));
  });

  it("walks the flow with next and previous", () => {
    const graph = chain();
    expect(neighbourOf(graph, null, true)).toBe("start");
    expect(neighbourOf(graph, "start", true)).toBe("route");
    expect(neighbourOf(graph, "answer", false)).toBe("route");
    expect(neighbourOf(graph, "answer", true)).toBe("other"); // no edge out: the next in order
    expect([...downstreamOf(graph, "route")].sort()).toEqual(["answer", "route"]);
  });

  it("marks the outputs that have an edge, and redraws a node when that changes", () => {
    const cache = new FlowCache();
    const overlay = { selected: new Set<string>(), problems: new Map<string, string[]>(), drag: {} };
    const linked = (nodes: ReturnType<FlowCache["nodes"]>, id: string) => (nodes.find((n) => n.id === id) as EditorFlowNode).data.linked;
    const graph = chain();
    const before = cache.nodes(graph, kinds, overlay);
    expect(linked(before, "route")).toBe("true");
    const after = cache.nodes(insertNode(graph, kinds.get("transform")!, { kind: "after", source: "route", handle: "false" }, sizeOf)!.graph, kinds, overlay);
    expect(linked(after, "route")).toBe("false true");
    expect(after.find((n) => n.id === "start")).toBe(before.find((n) => n.id === "start"));
  });
});
