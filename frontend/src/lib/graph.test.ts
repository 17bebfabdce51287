import { describe, expect, it } from "vitest";
import { layeredPositions, parseGraph, toFlow, type GraphV1 } from "./graph";

// The demo workflow (builder/demo.py), trimmed to what the conversion reads.
const triage: GraphV1 = {
  schema_version: 1,
  nodes: [
    { id: "ticket", type: "trigger", label: "Ticket", position: { x: 0, y: 120 }, params: {} },
    { id: "route", type: "condition", label: "Urgent or refund?", position: { x: 260, y: 120 }, params: {} },
    { id: "draft", type: "transform", label: "", position: { x: 520, y: 40 }, params: {} },
    { id: "reply", type: "reply", label: "Reply", position: { x: 780, y: 40 }, params: {} },
    { id: "escalate", type: "escalate", label: "Escalate", position: { x: 520, y: 220 }, params: {} },
  ],
  edges: [
    { id: "e1", source: "ticket", source_handle: "out", target: "route", target_handle: "in" },
    { id: "e4", source: "route", source_handle: "true", target: "escalate", target_handle: "in" },
    { id: "e2", source: "route", source_handle: "false", target: "draft", target_handle: "in" },
    { id: "e3", source: "draft", source_handle: "out", target: "reply", target_handle: "in" },
  ],
};

describe("toFlow", () => {
  it("converts nodes with label fallback, type subtitle and positions", () => {
    const { nodes } = toFlow(triage);
    expect(nodes.map((n) => n.id)).toEqual(["ticket", "route", "draft", "reply", "escalate"]);
    const route = nodes.find((n) => n.id === "route")!;
    expect(route.type).toBe("run");
    expect(route.position).toEqual({ x: 260, y: 120 });
    expect(route.data.label).toBe("Urgent or refund?");
    expect(route.data.subtitle).toBe("condition");
    expect(nodes.find((n) => n.id === "draft")!.data.label).toBe("draft"); // empty label -> id
    expect(nodes.every((n) => n.draggable === false && n.connectable === false)).toBe(true);
  });

  it("maps edge handles to sourceHandle/targetHandle", () => {
    const { edges } = toFlow(triage);
    expect(edges.find((e) => e.id === "e4")).toMatchObject({ source: "route", sourceHandle: "true", target: "escalate", targetHandle: "in" });
    expect(edges.find((e) => e.id === "e1")).toMatchObject({ sourceHandle: "out", targetHandle: "in" });
  });

  it("gives a branching node one labelled source handle per handle its edges use, top to bottom", () => {
    const route = toFlow(triage).nodes.find((n) => n.id === "route")!;
    // draft (false) sits above escalate (true), so "false" comes first.
    expect(route.data.sourceHandles).toEqual([
      { id: "false", label: "false" },
      { id: "true", label: "true" },
    ]);
    expect(route.data.targetHandles).toEqual([{ id: "in", label: "" }]);
  });

  it("leaves a lone default handle unlabelled and gives sinks and triggers no extra handles", () => {
    const { nodes } = toFlow(triage);
    const byId = Object.fromEntries(nodes.map((n) => [n.id, n.data]));
    expect(byId.ticket.sourceHandles).toEqual([{ id: "out", label: "" }]);
    expect(byId.ticket.targetHandles).toEqual([]);
    expect(byId.reply.sourceHandles).toEqual([]);
    expect(byId.reply.targetHandles).toEqual([{ id: "in", label: "" }]);
  });

  it("labels switch cases, shares a handle used by several edges, defaults missing handle names", () => {
    const graph: GraphV1 = {
      schema_version: 1,
      nodes: [
        { id: "s", type: "switch", position: { x: 0, y: 0 } },
        { id: "a", type: "transform", position: { x: 200, y: 0 } },
        { id: "b", type: "transform", position: { x: 200, y: 100 } },
        { id: "c", type: "transform", position: { x: 200, y: 200 } },
      ],
      edges: [
        { id: "1", source: "s", source_handle: "billing", target: "a", target_handle: "in" },
        { id: "2", source: "s", source_handle: "billing", target: "b", target_handle: "in" },
        { id: "3", source: "s", source_handle: "default", target: "c" },
      ],
    };
    const { nodes, edges } = toFlow(graph);
    expect(nodes[0].data.sourceHandles).toEqual([
      { id: "billing", label: "billing" },
      { id: "default", label: "default" },
    ]);
    expect(edges[2].targetHandle).toBe("in");
  });

  it("drops edges to nodes that are not in the graph", () => {
    const graph: GraphV1 = { ...triage, edges: [...triage.edges, { id: "x", source: "route", source_handle: "true", target: "ghost", target_handle: "in" }] };
    expect(toFlow(graph).edges.map((e) => e.id)).not.toContain("x");
  });

  it("lays out graphs saved without positions in columns by depth", () => {
    const graph: GraphV1 = { ...triage, nodes: triage.nodes.map((n) => ({ ...n, position: { x: 0, y: 0 } })) };
    const positions = new Map(toFlow(graph).nodes.map((n) => [n.id, n.position]));
    expect(positions.get("ticket")!.x).toBe(0);
    expect(positions.get("route")!.x).toBe(260);
    expect(positions.get("draft")!.x).toBe(520);
    expect(positions.get("escalate")!.x).toBe(520);
    expect(positions.get("reply")!.x).toBe(780);
    expect(positions.get("draft")!.y).not.toBe(positions.get("escalate")!.y);
  });

  it("does not hang on a cycle", () => {
    const graph: GraphV1 = {
      schema_version: 1,
      nodes: [
        { id: "a", type: "t" },
        { id: "b", type: "t" },
      ],
      edges: [
        { id: "1", source: "a", target: "b" },
        { id: "2", source: "b", target: "a" },
      ],
    };
    expect(layeredPositions(graph).size).toBe(2);
  });
});

describe("parseGraph", () => {
  it("accepts v1 and refuses other documents", () => {
    expect(parseGraph(JSON.stringify(triage)).nodes).toHaveLength(5);
    expect(() => parseGraph('{"schema_version": 2, "nodes": [], "edges": []}')).toThrow(/schema_version/);
    expect(() => parseGraph("[]")).toThrow();
  });
});
