import { describe, expect, it } from "vitest";
import { diffGraphs, fieldChanges, isEmpty, mergedGraph, shown } from "./diff";
import type { GraphV1 } from "./graph";

const v1: GraphV1 = {
  schema_version: 1,
  nodes: [
    { id: "ticket", type: "trigger", label: "Ticket", position: { x: 0, y: 0 }, params: {} },
    { id: "route", type: "condition", label: "Urgent?", position: { x: 200, y: 0 }, params: { expression: "input.priority == 'urgent'" } },
    { id: "reply", type: "reply", label: "Reply", position: { x: 400, y: 0 }, params: { answer: "Hi", extra: { tone: "warm" } } },
  ],
  edges: [
    { id: "e1", source: "ticket", source_handle: "out", target: "route", target_handle: "in" },
    { id: "e2", source: "route", source_handle: "false", target: "reply", target_handle: "in" },
  ],
};

function edit(graph: GraphV1, change: (copy: GraphV1) => void): GraphV1 {
  const copy = structuredClone(graph);
  change(copy);
  return copy;
}

describe("diffGraphs", () => {
  it("finds nothing between a graph and its copy", () => {
    expect(isEmpty(diffGraphs(v1, structuredClone(v1)))).toBe(true);
  });

  it("ignores moved nodes: position is layout, not behaviour", () => {
    const moved = edit(v1, (g) => (g.nodes[2].position = { x: 999, y: 50 }));
    expect(isEmpty(diffGraphs(v1, moved))).toBe(true);
  });

  it("reports a changed parameter down to its path with before and after", () => {
    const v2 = edit(v1, (g) => ((g.nodes[2].params!.extra as Record<string, unknown>).tone = "formal"));
    const diff = diffGraphs(v1, v2);
    expect(diff.changed).toEqual([{ id: "reply", label: "Reply", type: "reply", changes: [{ path: "params.extra.tone", before: "warm", after: "formal" }] }]);
    expect(diff.added).toEqual([]);
    expect(diff.removed).toEqual([]);
  });

  it("reports labels, retry settings and new or dropped parameters as changes", () => {
    const v2 = edit(v1, (g) => {
      g.nodes[1].label = "Urgent or refund?";
      g.nodes[1].retry = { max_attempts: 3 };
      delete g.nodes[2].params!.answer;
    });
    const diff = diffGraphs(v1, v2);
    expect(diff.changed.find((c) => c.id === "route")!.changes).toEqual([
      { path: "label", before: "Urgent?", after: "Urgent or refund?" },
      { path: "retry", before: undefined, after: { max_attempts: 3 } },
    ]);
    expect(diff.changed.find((c) => c.id === "reply")!.changes).toEqual([{ path: "params.answer", before: "Hi", after: undefined }]);
  });

  it("compares lists by index", () => {
    const a = { params: { fields: [{ name: "reply", required: true }] } };
    const b = { params: { fields: [{ name: "reply", required: false }, { name: "cc" }] } };
    expect(fieldChanges(a, b)).toEqual([
      { path: "params.fields.0.required", before: true, after: false },
      { path: "params.fields.1", before: undefined, after: { name: "cc" } },
    ]);
  });

  it("reports added and removed nodes and edges, matching edges by what they connect", () => {
    const v2 = edit(v1, (g) => {
      g.nodes = g.nodes.filter((n) => n.id !== "reply");
      g.nodes.push({ id: "escalate", type: "escalate", params: {} });
      g.edges = [
        { id: "x1", source: "ticket", target: "route" }, // same connection as e1: default handles, new id
        { id: "x2", source: "route", source_handle: "true", target: "escalate" },
      ];
    });
    const diff = diffGraphs(v1, v2);
    expect(diff.added.map((n) => n.id)).toEqual(["escalate"]);
    expect(diff.removed.map((n) => n.id)).toEqual(["reply"]);
    expect(diff.addedEdges.map((e) => e.id)).toEqual(["x2"]);
    expect(diff.removedEdges.map((e) => e.id)).toEqual(["e2"]);
  });

  it("treats a node whose type changed as changed, not removed and added", () => {
    const v2 = edit(v1, (g) => (g.nodes[2].type = "escalate"));
    expect(diffGraphs(v1, v2).changed[0].changes).toContainEqual({ path: "type", before: "reply", after: "escalate" });
  });
});

describe("mergedGraph", () => {
  it("draws the new graph plus what was removed, each with its status", () => {
    const v2 = edit(v1, (g) => {
      g.nodes = g.nodes.filter((n) => n.id !== "reply");
      g.nodes[1].params = { expression: "true" };
      g.nodes.push({ id: "escalate", type: "escalate", params: {} });
      g.edges = [{ id: "e2", source: "route", source_handle: "true", target: "escalate", target_handle: "in" }];
    });
    const { graph, nodes, edges } = mergedGraph(v2, diffGraphs(v1, v2));
    expect(Object.fromEntries(nodes)).toEqual({ ticket: "same", route: "changed", escalate: "added", reply: "removed" });
    expect(graph.nodes.map((n) => n.id)).toEqual(["ticket", "route", "escalate", "reply"]);
    expect(new Set(graph.edges.map((e) => e.id)).size).toBe(graph.edges.length);
    expect([...edges.values()].sort()).toEqual(["added", "removed", "removed"]);
  });
});

describe("shown", () => {
  it("writes values as JSON and a missing value as (none)", () => {
    expect(shown("warm")).toBe('"warm"');
    expect(shown(undefined)).toBe("(none)");
    expect(shown({ a: 1 })).toBe('{"a":1}');
  });
});
