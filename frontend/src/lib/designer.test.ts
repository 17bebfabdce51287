import { describe, expect, it } from "vitest";
import { copyFragment, freshId, parseFragment, pasteFragment } from "./clipboard";
import { connectionProblem, upstreamOf } from "./connections";
import { createDesignerStore, edgeKeys, TYPING_BURST_MS } from "./designerStore";
import { FlowCache, editorEdges } from "./editorFlow";
import type { GraphV1 } from "./graph";
import { autoLayout } from "./layout";
import { defaultParams, outputHandles, paletteGroups, type NodeKind } from "./nodeKinds";
import { formSchema, paramsChanged, readValue, suggestionsFor, uiSchemaFor } from "./paramsUi";
import { placeProblems } from "./problems";

function kind(name: string, extra: Partial<NodeKind> = {}): NodeKind {
  return {
    kind: name,
    label: name[0].toUpperCase() + name.slice(1),
    category: "Logic",
    description: `${name} node`,
    inputs: ["in"],
    outputs: ["out"],
    side_effect: false,
    is_trigger: false,
    params_schema: { type: "object", properties: {} },
    ...extra,
  };
}

const KINDS = [
  kind("trigger", { category: "Triggers", inputs: [], is_trigger: true }),
  kind("transform", { category: "Data", params_schema: { type: "object", properties: { fields: { type: "object", default: {} } } } }),
  kind("condition", { outputs: ["true", "false"] }),
  kind("switch", { outputs: ["default"] }),
  kind("reply", { category: "Outcomes", outputs: [] }),
];
const kinds = new Map(KINDS.map((k) => [k.kind, k]));

function triage(): GraphV1 {
  return {
    schema_version: 1,
    nodes: [
      { id: "start", type: "trigger", position: { x: 0, y: 0 }, params: {} },
      { id: "route", type: "condition", position: { x: 200, y: 0 }, params: { expression: "input.urgent" } },
      { id: "shape", type: "transform", position: { x: 400, y: 0 }, params: { fields: { subject: "{{ nodes.route.result }}" } } },
      { id: "answer", type: "reply", position: { x: 600, y: 0 }, params: { answer: "{{ nodes.shape.subject }}" } },
    ],
    edges: [
      { id: "e1", source: "start", source_handle: "out", target: "route", target_handle: "in" },
      { id: "e2", source: "route", source_handle: "true", target: "shape", target_handle: "in" },
      { id: "e3", source: "shape", source_handle: "out", target: "answer", target_handle: "in" },
    ],
    notes: [{ id: "note_1", text: "Ask legal", position: { x: 10, y: 200 } }],
  };
}

describe("serialisation", () => {
  it("derives React Flow nodes from our graph and keeps unchanged ones", () => {
    const graph = triage();
    const cache = new FlowCache();
    const overlay = { selected: new Set<string>(), problems: new Map<string, string[]>(), drag: {} };
    const first = cache.nodes(graph, kinds, overlay);
    expect(first.map((n) => [n.id, n.type])).toEqual([
      ["start", "editor"],
      ["route", "editor"],
      ["shape", "editor"],
      ["answer", "editor"],
      ["note_1", "note"],
    ]);
    const route = first[1];
    expect(route.type === "editor" && route.data.outputs).toEqual([
      { id: "true", label: "true" },
      { id: "false", label: "false" },
    ]);
    const moved = { ...graph, nodes: graph.nodes.map((n) => (n.id === "answer" ? { ...n, position: { x: 9, y: 9 } } : n)) };
    const second = cache.nodes(moved, kinds, overlay);
    expect(second[0]).toBe(first[0]);
    expect(second[3]).not.toBe(first[3]);
    expect(second[3].position).toEqual({ x: 9, y: 9 });
  });

  it("saves exactly our graph JSON: edits produce graph v1 and nothing of React Flow", () => {
    const store = createDesignerStore(triage(), kinds);
    store.getState().dragTo({ answer: { x: 700, y: 50 } });
    store.getState().commitDrag();
    store.getState().select(["answer"]);
    const saved = JSON.parse(JSON.stringify(store.getState().graph)) as GraphV1;
    expect(Object.keys(saved).sort()).toEqual(["edges", "nodes", "notes", "schema_version"]);
    expect(saved.nodes[3]).toEqual({ id: "answer", type: "reply", position: { x: 700, y: 50 }, params: { answer: "{{ nodes.shape.subject }}" } });
    expect(saved.edges[1]).toEqual({ id: "e2", source: "route", source_handle: "true", target: "shape", target_handle: "in" });
  });

  it("draws edges from their named handles", () => {
    const edges = editorEdges(triage(), new Set(["e2"]));
    expect(edges.map((e) => [e.id, e.sourceHandle, e.targetHandle, e.selected])).toEqual([
      ["e1", "out", "in", false],
      ["e2", "true", "in", true],
      ["e3", "out", "in", false],
    ]);
  });
});

describe("connection rules", () => {
  const graph = triage();
  const problem = (source: string, target: string, sourceHandle = "out", targetHandle = "in") =>
    connectionProblem(graph, kinds, { source, target, sourceHandle, targetHandle });

  it("accepts a new edge between typed handles", () => {
    expect(problem("route", "answer", "false")).toBeNull();
  });

  it("refuses edges into a trigger, self-loops, cycles, duplicates and unknown handles", () => {
    expect(problem("shape", "start")).toMatch(/trigger/);
    expect(problem("shape", "shape")).toMatch(/itself/);
    expect(problem("answer", "route")).toMatch(/no output/);
    expect(problem("shape", "route")).toMatch(/cycle/);
    expect(problem("route", "shape", "true")).toMatch(/already connected/);
    expect(problem("route", "answer", "maybe")).toMatch(/no output maybe/);
  });

  it("gives a switch one handle per case plus default", () => {
    expect(outputHandles(kinds.get("switch"), { params: { cases: ["billing", "tech", "billing"] } })).toEqual(["billing", "tech", "default"]);
    expect(outputHandles(kinds.get("switch"), { params: {} })).toEqual(["default"]);
  });

  it("adds the error output to a node set to continue on failure, never to a trigger", () => {
    const onFailure = { choices: ["fail_run", "continue"], default: "fail_run", handle: "error" };
    const transform = kind("transform", { on_failure: onFailure });
    const trigger = kind("trigger", { inputs: [], is_trigger: true, on_failure: null });
    expect(outputHandles(transform, { on_failure: "continue" })).toEqual(["out", "error"]);
    expect(outputHandles(transform, { on_failure: "fail_run" })).toEqual(["out"]);
    expect(outputHandles(transform, {})).toEqual(["out"]);
    expect(outputHandles(trigger, { on_failure: "continue" })).toEqual(["out"]);
  });

  it("drops the error output's edges, in the same undo step, when a node goes back to failing the run", () => {
    const onFailure = { choices: ["fail_run", "continue"], default: "fail_run", handle: "error" };
    const store = createDesignerStore(triage(), new Map(KINDS.map((k) => [k.kind, k.is_trigger ? k : { ...k, on_failure: onFailure }])));
    store.getState().updateNode("shape", { on_failure: "continue" });
    store.getState().connect({ source: "shape", sourceHandle: "error", target: "answer", targetHandle: "in" });
    expect(edgeKeys(store.getState().graph)).toContain("shape.error->answer.in");
    store.getState().updateNode("shape", { on_failure: "fail_run" });
    expect(edgeKeys(store.getState().graph)).not.toContain("shape.error->answer.in");
    store.temporal.getState().undo();
    expect(edgeKeys(store.getState().graph)).toContain("shape.error->answer.in");
  });

  it("lists upstream nodes nearest first", () => {
    expect(upstreamOf(graph, "answer")).toEqual(["shape", "route", "start"]);
  });
});

describe("undo and redo", () => {
  it("undoes and redoes every edit, one step each, and not selection", () => {
    const store = createDesignerStore(triage(), kinds);
    const undo = () => store.temporal.getState().undo();
    const redo = () => store.temporal.getState().redo();
    const id = store.getState().addNode(kinds.get("transform")!, { x: 1, y: 2 });
    expect(id).toBe("transform_1");
    expect(store.getState().graph.nodes.at(-1)?.params).toEqual({ fields: {} });
    store.getState().connect({ source: "start", target: id });
    store.getState().updateNode(id, { label: "Tidy" });
    store.getState().select([]);
    store.getState().remove(["route"]);
    expect(store.getState().graph.nodes.map((n) => n.id)).toEqual(["start", "shape", "answer", "transform_1"]);
    expect(edgeKeys(store.getState().graph)).toEqual(["shape.out->answer.in", "start.out->transform_1.in"]);

    undo();
    expect(store.getState().graph.nodes.map((n) => n.id)).toContain("route");
    expect(edgeKeys(store.getState().graph)).toHaveLength(4);
    undo();
    expect(store.getState().graph.nodes.at(-1)?.label).toBe("Transform");
    undo();
    undo();
    expect(store.getState().graph).toEqual(triage());
    redo();
    redo();
    expect(edgeKeys(store.getState().graph)).toContain("start.out->transform_1.in");
  });

  it("makes a burst of typing in one node one step, and a pause or another node a new one", () => {
    let clock = 0;
    const store = createDesignerStore(triage(), kinds, () => clock);
    const label = () => store.getState().graph.nodes.find((n) => n.id === "shape")?.label;
    for (const typed of ["T", "Ti", "Tid", "Tidy"]) {
      store.getState().updateNode("shape", { label: typed });
      clock += 300;
    }
    clock += TYPING_BURST_MS;
    store.getState().updateNode("shape", { label: "Tidy up" });
    store.getState().updateNode("route", { label: "Route it" });
    expect(store.temporal.getState().pastStates).toHaveLength(3);

    store.temporal.getState().undo();
    store.temporal.getState().undo();
    expect(label()).toBe("Tidy");
    store.temporal.getState().undo();
    expect(store.getState().graph).toEqual(triage());
  });

  it("ends a burst of typing when another edit comes between", () => {
    const store = createDesignerStore(triage(), kinds, () => 0);
    store.getState().updateNode("shape", { label: "A" });
    store.getState().connect({ source: "start", target: "answer" });
    store.getState().updateNode("shape", { label: "AB" });
    expect(store.temporal.getState().pastStates).toHaveLength(3);
  });

  it("records a drag as one step when it ends", () => {
    const store = createDesignerStore(triage(), kinds);
    for (const x of [10, 20, 30]) store.getState().dragTo({ start: { x, y: 0 } });
    expect(store.temporal.getState().pastStates).toHaveLength(0);
    store.getState().commitDrag();
    expect(store.getState().graph.nodes[0].position).toEqual({ x: 30, y: 0 });
    store.temporal.getState().undo();
    expect(store.getState().graph.nodes[0].position).toEqual({ x: 0, y: 0 });
  });

  it("does not count a drag that ends where it began (a click) as an edit", () => {
    const store = createDesignerStore(triage(), kinds);
    const before = store.getState().graph;
    store.getState().dragTo({ route: { x: 200, y: 0 } });
    store.getState().commitDrag();
    expect(store.getState().graph).toBe(before);
    expect(store.getState().drag).toEqual({});
    expect(store.temporal.getState().pastStates).toHaveLength(0);
    store.getState().select(["route"]);
    expect(store.getState().graph).toBe(before);
  });

  it("drops edges from switch cases that no longer exist", () => {
    const graph = triage();
    graph.nodes.push({ id: "pick", type: "switch", params: { value: "x", cases: ["a", "b"] } });
    graph.edges.push({ id: "e4", source: "pick", source_handle: "b", target: "answer", target_handle: "in" });
    const store = createDesignerStore(graph, kinds);
    store.getState().updateNode("pick", { params: { value: "x", cases: ["a"] } });
    expect(store.getState().graph.edges.map((e) => e.id)).toEqual(["e1", "e2", "e3"]);
    store.temporal.getState().undo();
    expect(store.getState().graph.edges.map((e) => e.id)).toContain("e4");
  });
});

describe("copy and paste", () => {
  it("pastes a selection with fresh ids, its inner edges and retargeted expressions", () => {
    const graph = triage();
    const fragment = parseFragment(JSON.stringify(copyFragment(graph, new Set(["shape", "answer", "note_1"]))))!;
    expect(fragment.edges.map((e) => e.id)).toEqual(["e3"]);
    const pasted = pasteFragment(graph, fragment, { x: 40, y: 40 });
    expect(pasted.ids).toEqual(["shape_1", "answer_1", "note_2"]);
    const answer = pasted.graph.nodes.find((n) => n.id === "answer_1")!;
    expect(answer.params).toEqual({ answer: "{{ nodes.shape_1.subject }}" });
    expect(answer.position).toEqual({ x: 640, y: 40 });
    const shape = pasted.graph.nodes.find((n) => n.id === "shape_1")!;
    expect(shape.params).toEqual({ fields: { subject: "{{ nodes.route.result }}" } });
    expect(edgeKeys(pasted.graph)).toContain("shape_1.out->answer_1.in");
  });

  it("ignores clipboard text that is not a fragment and makes valid node ids", () => {
    expect(parseFragment("hello")).toBeNull();
    expect(parseFragment('{"format":"other"}')).toBeNull();
    expect(freshId("http-request", new Set(["http_request_1"]))).toBe("http_request_2");
    expect(freshId("9lives", new Set())).toBe("n_9lives_1");
  });
});

describe("problems, palette and layout", () => {
  it("places server problems on their node and field", () => {
    const placed = placeProblems(triage(), [
      { path: "nodes.3.params.answer", code: "not_upstream", message: "not before" },
      { path: "nodes.1", code: "unreachable", message: "unreachable" },
      { path: "edges.2.target", code: "dangling_edge", message: "dangling" },
      { path: "nodes", code: "no_trigger", message: "needs a trigger" },
    ]);
    expect(placed.byNode.get("answer")).toEqual(["not before", "dangling"]);
    expect(placed.byField.get("answer")).toEqual({ "params.answer": ["not before"] });
    expect(placed.byNode.get("route")).toEqual(["unreachable"]);
    expect(placed.general).toEqual(["needs a trigger"]);
  });

  it("groups the palette by category and searches it", () => {
    expect(paletteGroups(KINDS, "").map((g) => g.category)).toEqual(["Triggers", "Data", "Logic", "Outcomes"]);
    expect(paletteGroups(KINDS, "repl").flatMap((g) => g.kinds.map((k) => k.kind))).toEqual(["reply"]);
    expect(defaultParams(kinds.get("transform")!)).toEqual({ fields: {} });
  });

  it("offers the kinds named by a search before those whose description merely mentions it", () => {
    const upsert = kind("knowledge_upsert", { label: "Knowledge upsert", category: "Data", description: "Adds or replaces a document" });
    const found = paletteGroups([...KINDS, upsert], "rep").flatMap((g) => g.kinds.map((k) => k.kind));
    expect(found).toEqual(["reply", "knowledge_upsert"]);
  });

  it("lays the graph out left to right", () => {
    const positions = autoLayout(triage());
    expect(positions.start.x).toBeLessThan(positions.route.x);
    expect(positions.route.x).toBeLessThan(positions.shape.x);
    expect(positions.shape.x).toBeLessThan(positions.answer.x);
  });
});

describe("the params form", () => {
  const schema = {
    type: "object",
    properties: {
      prompt: { type: "string" },
      provider: { type: "string" },
      model: { type: "string" },
      fields: { type: "object" },
      answer: {},
      mode: { type: "string", enum: ["a", "b"] },
    },
  };
  const providers = [
    { name: "openai", kind: "openai", label: "OpenAI", models: ["gpt-5", "gpt-5-mini"] },
    { name: "local", kind: "ollama", label: "Local", models: ["llama4"] },
  ];

  it("gives prompts a large editor, free-form values the JSON field, providers suggestions", () => {
    const ui = uiSchemaFor(schema, providers);
    expect(ui.prompt).toMatchObject({ "ui:widget": "textarea" });
    expect(ui.fields).toEqual({ "ui:field": "json" });
    expect(ui.answer).toEqual({ "ui:field": "json" });
    expect(ui.provider).toEqual({ "ui:widget": "suggest" });
    expect(ui.mode).toBeUndefined();
    expect(uiSchemaFor(schema, []).provider).toBeUndefined();
  });

  it("suggests the chosen provider's models", () => {
    expect(suggestionsFor("provider", providers, {})).toEqual(["openai", "local"]);
    expect(suggestionsFor("model", providers, { provider: "local" })).toEqual(["llama4"]);
    expect(suggestionsFor("model", providers, {})).toEqual(["gpt-5", "gpt-5-mini", "llama4"]);
  });

  it("renders pydantic's optional fields as plain fields and drops the root title", () => {
    const shown = formSchema({
      title: "ReplyParams",
      type: "object",
      properties: {
        callback_url: { anyOf: [{ type: "string", format: "uri" }, { type: "null" }], default: null, title: "Callback Url" },
        answer: {},
      },
    });
    expect(shown.title).toBeUndefined();
    expect(shown.properties?.callback_url).toEqual({ type: "string", format: "uri", title: "Callback Url", default: undefined });
    expect(shown.properties?.answer).toEqual({});
  });

  it("does not count fields the form fills in as null as an edit", () => {
    expect(paramsChanged({ answer: "hi" }, { answer: "hi", callback_url: null })).toBe(false);
    expect(paramsChanged({ answer: "hi" }, { answer: "hi!" })).toBe(true);
    expect(paramsChanged({ fields: { a: 1 } }, { fields: { a: 2 } })).toBe(true);
  });

  it("keeps free text as text and reads JSON values", () => {
    expect(readValue("Thanks, {{ input.name }}")).toBe("Thanks, {{ input.name }}");
    expect(readValue('{"a": 1}')).toEqual({ a: 1 });
    expect(readValue("{not json")).toBe("{not json");
    expect(readValue("  ")).toBeUndefined();
  });
});
