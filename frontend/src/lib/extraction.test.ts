import { describe, expect, it } from "vitest";
import { createDesignerStore } from "./designerStore";
import { extractedNotice, extractRefusal, extractSelection, selectedNodeIds, suggestedName, type Extracted } from "./extraction";
import type { GraphV1 } from "./graph";
import type { NodeKind } from "./nodeKinds";

function kind(name: string, isTrigger = false): NodeKind {
  return {
    kind: name,
    label: name,
    category: "Logic",
    description: "",
    inputs: isTrigger ? [] : ["in"],
    outputs: ["out"],
    side_effect: false,
    is_trigger: isTrigger,
    params_schema: { type: "object", properties: {} },
  };
}

const KINDS = new Map([kind("trigger", true), kind("transform"), kind("subworkflow"), kind("reply")].map((k) => [k.kind, k]));

const GRAPH: GraphV1 = {
  schema_version: 1,
  nodes: [
    { id: "start", type: "trigger", label: "Ticket", position: { x: 0, y: 0 }, params: {} },
    { id: "clean", type: "transform", label: "Clean", position: { x: 300, y: 0 }, params: {} },
    { id: "tag", type: "transform", position: { x: 600, y: 0 }, params: {} },
    { id: "answer", type: "reply", position: { x: 900, y: 0 }, params: { answer: "{{ nodes.tag.label }}" } },
  ],
  notes: [{ id: "note_1", text: "hi", position: { x: 0, y: 200 }, width: 200, height: 120 }],
  edges: [
    { id: "e1", source: "start", target: "clean" },
    { id: "e2", source: "clean", target: "tag" },
    { id: "e3", source: "tag", target: "answer" },
  ],
};

const EXTRACTED: Extracted = {
  workflow_id: 7,
  name: "Clean sub-workflow",
  version: 1,
  problems: [],
  designer_url: "/workflows/7/",
  node_id: "subworkflow",
  graph: {
    schema_version: 1,
    nodes: [GRAPH.nodes[0], GRAPH.nodes[3], { id: "subworkflow", type: "subworkflow", position: { x: 450, y: 0 }, params: { workflow_id: 7 } }],
    edges: [
      { id: "a", source: "start", target: "subworkflow" },
      { id: "b", source: "subworkflow", target: "answer" },
    ],
  },
};

describe("extract into sub-workflow", () => {
  it("extracts the selected nodes, not notes or edges, and offers a name after the first", () => {
    const ids = selectedNodeIds(GRAPH, ["note_1", "e2", "tag", "clean"]);
    expect(ids).toEqual(["clean", "tag"]);
    expect(suggestedName(GRAPH, ids)).toBe("Clean sub-workflow");
    expect(extractRefusal(GRAPH, ids, KINDS)).toBeNull();
  });

  it("refuses nothing selected and the trigger before asking the server", () => {
    expect(extractRefusal(GRAPH, [], KINDS)).toBe("Select the nodes to extract first");
    expect(extractRefusal(GRAPH, ["start", "clean"], KINDS)).toBe("Ticket is the trigger: it stays; select what runs after it");
  });

  it("says whether the new workflow was published", () => {
    expect(extractedNotice(EXTRACTED)).toBe("Extracted into Clean sub-workflow (published as v1)");
    const problem = { path: "nodes.1.params.url", code: "params", message: "url is required" };
    expect(extractedNotice({ ...EXTRACTED, version: null, problems: [problem] })).toBe(
      "Extracted into Clean sub-workflow, not published: 1 problem(s) to fix there first",
    );
  });

  it("posts the graph and the selection with the CSRF token, and reads the server's refusal", async () => {
    const calls: { url: string; init: RequestInit }[] = [];
    const answer = (status: number, body: unknown) => async (url: string | URL | Request, init?: RequestInit) => {
      calls.push({ url: String(url), init: init ?? {} });
      return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
    };
    const body = { graph: GRAPH, node_ids: ["clean", "tag"], name: "Tagging" };
    await expect(extractSelection("/api/v1", 3, body, "tok", answer(201, EXTRACTED) as typeof fetch)).resolves.toEqual(EXTRACTED);
    expect(calls[0].url).toBe("/api/v1/workflows/3/extract");
    expect(calls[0].init.method).toBe("POST");
    expect((calls[0].init.headers as Record<string, string>)["X-CSRFToken"]).toBe("tok");
    expect(JSON.parse(String(calls[0].init.body))).toEqual(body);
    const refused = { error: { code: "invalid_request", message: "Nothing was extracted: 'clean' is not connected", details: {} } };
    await expect(extractSelection("/api/v1", 3, body, "tok", answer(422, refused) as typeof fetch)).rejects.toThrow("not connected");
  });

  it("puts the returned graph in place as one undo step, with the new node selected", () => {
    const store = createDesignerStore(GRAPH, KINDS);
    store.getState().select(["clean", "tag"]);
    store.getState().replaceGraph(EXTRACTED.graph, ["subworkflow"]);
    expect(store.getState().graph).toBe(EXTRACTED.graph);
    expect(store.getState().selected).toEqual(["subworkflow"]);
    expect(store.temporal.getState().pastStates).toHaveLength(1);
    store.temporal.getState().undo();
    expect(store.getState().graph).toBe(GRAPH);
  });
});
