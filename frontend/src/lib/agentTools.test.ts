import { describe, expect, it } from "vitest";
import { allowedOf, defaultArguments, kindFields, mcpChoices, mcpProblems, nameProblem, newTool, readSchema, replacedFields, toggledAllow, toolProblems, toolsOf, withoutTool, withTool, type McpListing } from "./agentTools";
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

  it("starts an MCP tool with no server and an empty allowlist", () => {
    expect(newTool("mcp", [])).toEqual({ name: "mcp_server", description: "", kind: "mcp", server: "", tools: [] });
  });

  const listing: McpListing = {
    ok: true,
    tools: [
      { name: "add", description: "Add two numbers", input_schema: { type: "object" } },
      { name: "lookup_order", description: "Find an order", input_schema: { type: "object" } },
      { name: "fail", description: "Always fails", input_schema: { type: "object" } },
    ],
    error: null,
  };

  it("ticks the allowlist in the server's order, keeping names the server no longer offers", () => {
    const tool = { name: "orders", kind: "mcp", server: "orders", tools: ["gone", "lookup_order"] };
    expect(mcpChoices(tool, listing)).toEqual([
      { name: "add", description: "Add two numbers", ticked: false, offered: true },
      { name: "lookup_order", description: "Find an order", ticked: true, offered: true },
      { name: "fail", description: "Always fails", ticked: false, offered: true },
      { name: "gone", description: "", ticked: true, offered: false },
    ]);
    expect(toggledAllow(tool, "add", true, listing)).toEqual(["add", "lookup_order", "gone"]);
    expect(toggledAllow(tool, "gone", false, listing)).toEqual(["lookup_order"]);
    expect(toggledAllow({ ...tool, tools: undefined }, "fail", true, null)).toEqual(["fail"]);
    expect(allowedOf({ name: "m", kind: "mcp", tools: ["a", 3, null] })).toEqual(["a"]);
  });

  it("says when no server is chosen, the server is unknown, or an allowlisted tool is not offered", () => {
    const servers = [{ id: 1, name: "orders" }];
    expect(mcpProblems({ name: "m", kind: "mcp", server: "" }, servers, null)).toEqual({ server: ["Choose an MCP server."] });
    expect(mcpProblems({ name: "m", kind: "mcp", server: "wiki" }, servers, null).server).toEqual(["There is no MCP server wiki in this workspace."]);
    expect(mcpProblems({ name: "m", kind: "mcp", server: "orders", tools: ["add"] }, servers, listing)).toEqual({});
    expect(mcpProblems({ name: "m", kind: "mcp", server: "orders", tools: ["add", "gone"] }, servers, listing).tools?.[0]).toMatch(/does not offer gone/);
    const down = { ok: false, tools: [], error: "MCP server orders could not be reached" };
    expect(mcpProblems({ name: "m", kind: "mcp", server: "orders", tools: ["gone"] }, servers, down)).toEqual({});
  });

  it("sums an agent up on its card by model and tool count", () => {
    expect(nodeSummary("agent", { provider: "builtin", model: "builtin-extractive", tools: [{}, {}] })).toBe("builtin · builtin-extractive · 2 tools");
    expect(nodeSummary("agent", {})).toBe("builtin · builtin-extractive · 0 tools");
  });
});
