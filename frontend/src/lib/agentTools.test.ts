import { describe, expect, it } from "vitest";
import { defaultArguments, kindFields, nameProblem, newTool, readSchema, replacedFields, toolProblems, toolsOf, withoutTool, withTool } from "./agentTools";
import { nodeSummary } from "./nodeSummary";
import { placeProblems } from "./problems";

describe("the agent's tools editor", () => {
  it("names a new tool so that no other tool has its name", () => {
    const first = newTool("knowledge", []);
    expect(first).toEqual({ name: "search", description: "", kind: "knowledge", knowledge_base: "", top_k: 4 });
    expect(newTool("knowledge", [first, { ...first, name: "search_2" }]).name).toBe("search_3");
    expect(newTool("http", [])).toMatchObject({ name: "call_api", method: "GET", url: "" });
  });

  it("changes one tool, removes fields set to undefined, and removes a tool", () => {
    const tools = [newTool("http", []), newTool("workflow", [])];
    const changed = withTool(tools, 0, { method: "POST", url: undefined });
    expect(changed[0]).toEqual({ name: "call_api", description: "", kind: "http", method: "POST" });
    expect(changed[1]).toBe(tools[1]);
    expect(withoutTool(changed, 0).map((t) => t.name)).toEqual(["run_workflow"]);
  });

  it("reads only tool-like entries of the params", () => {
    expect(toolsOf({ tools: [{ name: "a", kind: "http" }, null, "x", { name: "b" }] })).toEqual([{ name: "a", kind: "http" }]);
    expect(toolsOf({})).toEqual([]);
  });

  it("refuses names the engine refuses and names taken by another tool", () => {
    const tools = [{ name: "lookup", kind: "http" }, { name: "search", kind: "knowledge" }];
    expect(nameProblem("lookup", 0, tools)).toBe("");
    expect(nameProblem("search", 0, tools)).toBe("Another tool is already called search.");
    expect(nameProblem("look up", 0, tools)).toMatch(/letters, digits/);
    expect(nameProblem("", 0, tools)).toMatch(/letters, digits/);
  });

  it("checks an arguments schema as typed", () => {
    expect(readSchema("")).toEqual({ schema: null, problem: "" });
    expect(readSchema("{").problem).toMatch(/^Not valid JSON/);
    expect(readSchema("[]").problem).toBe("A JSON Schema is an object.");
    expect(readSchema('{"type": "string"}').problem).toMatch(/"type": "object"/);
    expect(readSchema('{"type": "object", "properties": []}').problem).toMatch(/properties/);
    expect(readSchema('{"type": "object", "required": "id"}').problem).toMatch(/required/);
    expect(readSchema('{"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]}')).toEqual({
      schema: { type: "object", properties: { id: { type: "string" } }, required: ["id"] },
      problem: "",
    });
  });

  it("shows the kind's default arguments, a workflow's being its trigger schema", () => {
    expect(defaultArguments("knowledge")?.required).toEqual(["query"]);
    const input = { type: "object", properties: { order: { type: "string" } } };
    expect(defaultArguments("workflow", input)).toBe(input);
    expect(defaultArguments("workflow", null)).toBeNull();
  });

  it("keeps the fields of kinds it has no controls for", () => {
    const tool = { name: "m", kind: "mcp", description: "", server: "docs", allow: ["read"] };
    expect(kindFields(tool)).toEqual({ server: "docs", allow: ["read"] });
    const patch = replacedFields(tool, { server: "wiki", name: "renamed" });
    expect(withTool([tool], 0, patch)[0]).toEqual({ name: "m", kind: "mcp", description: "", server: "wiki" });
  });

  it("puts the graph's problems on the tool and field they name", () => {
    const graph = {
      schema_version: 1,
      nodes: [
        { id: "t", type: "trigger", position: { x: 0, y: 0 }, params: {} },
        { id: "a", type: "agent", position: { x: 0, y: 0 }, params: {} },
      ],
      edges: [],
    };
    const placed = placeProblems(graph as never, [
      { path: "nodes.1.params.tools.0.parameters", code: "bad_params", message: "not a valid JSON Schema" },
      { path: "nodes.1.params.tools.1", code: "bad_params", message: "url: bad template" },
      { path: "nodes.1.params", code: "bad_params", message: "Value error, tools.1.name: another tool is already called 'x'" },
    ]);
    const fields = placed.byField.get("a");
    expect(toolProblems(fields, 0)).toEqual({ parameters: ["not a valid JSON Schema"] });
    expect(toolProblems(fields, 1)).toEqual({ "": ["url: bad template"], name: ["Value error, tools.1.name: another tool is already called 'x'"] });
    expect(fields?.["params.tools"]).toHaveLength(2);
  });

  it("sums an agent up on its card by model and tool count", () => {
    expect(nodeSummary("agent", { provider: "builtin", model: "builtin-extractive", tools: [{}, {}] })).toBe("builtin · builtin-extractive · 2 tools");
    expect(nodeSummary("agent", {})).toBe("builtin · builtin-extractive · 0 tools");
  });
});
