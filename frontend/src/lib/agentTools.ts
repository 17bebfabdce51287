// The agent node's tools as the designer edits them (engine/agent/tools.py ToolSpec: name,
// description, parameters, requires_approval, kind and the kind's own fields). Pure: tested.

import type { JsonSchema } from "./nodeKinds";

export type Tool = Record<string, unknown> & { name: string; kind: string };

/** The tool kinds the designer offers, with the fields a new tool of each kind starts with. */
export const TOOL_KINDS: { kind: string; label: string; starts: Record<string, unknown> }[] = [
  { kind: "knowledge", label: "Knowledge base search", starts: { knowledge_base: "", top_k: 4 } },
  { kind: "http", label: "HTTP request", starts: { method: "GET", url: "" } },
  { kind: "workflow", label: "Workflow", starts: {} },
  { kind: "mcp", label: "MCP server tools", starts: { server: "", tools: [] } },
];

export const HTTP_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/** The fields every tool has; the others belong to its kind. */
const COMMON = new Set(["name", "description", "parameters", "requires_approval", "kind"]);

const TOOL_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** The node's tools, keeping only entries that look like tools. */
export function toolsOf(params: Record<string, unknown>): Tool[] {
  const tools = params.tools;
  if (!Array.isArray(tools)) return [];
  return tools.filter((tool): tool is Tool => Boolean(tool) && typeof tool === "object" && typeof (tool as Tool).kind === "string");
}

/** A new tool of `kind`, named so that no other tool has its name (search, search_2...). */
export function newTool(kind: string, existing: Tool[]): Tool {
  const base = { knowledge: "search", http: "call_api", workflow: "run_workflow", mcp: "mcp_server" }[kind] ?? kind;
  const taken = new Set(existing.map((tool) => tool.name));
  let name = base;
  for (let n = 2; taken.has(name); n += 1) name = `${base}_${n}`;
  const starts = TOOL_KINDS.find((k) => k.kind === kind)?.starts ?? {};
  return { name, description: "", kind, ...structuredClone(starts) };
}

/** The tools with the one at `index` changed: a field set to undefined is removed. */
export function withTool(tools: Tool[], index: number, patch: Record<string, unknown>): Tool[] {
  return tools.map((tool, i) => {
    if (i !== index) return tool;
    const next: Record<string, unknown> = { ...tool, ...patch };
    for (const [key, value] of Object.entries(patch)) if (value === undefined) delete next[key];
    return next as Tool;
  });
}

export function withoutTool(tools: Tool[], index: number): Tool[] {
  return tools.filter((_, i) => i !== index);
}

/** Fields of the tool's kind that the designer has no control for (an MCP tool's, say): edited as JSON. */
export function kindFields(tool: Tool): Record<string, unknown> {
  return Object.fromEntries(Object.entries(tool).filter(([key]) => !COMMON.has(key)));
}

/** The patch that makes `fields` the tool's kind fields: the ones left out are removed. */
export function replacedFields(tool: Tool, fields: Record<string, unknown>): Record<string, unknown> {
  const dropped = Object.keys(kindFields(tool)).filter((key) => !(key in fields));
  const kept = Object.fromEntries(Object.entries(fields).filter(([key]) => !COMMON.has(key)));
  return { ...Object.fromEntries(dropped.map((key) => [key, undefined])), ...kept };
}

/** Why the name cannot be used, or "". */
export function nameProblem(name: string, index: number, tools: Tool[]): string {
  if (!TOOL_NAME.test(name)) return "Use letters, digits, _ and - (1 to 64).";
  if (tools.some((tool, i) => i !== index && tool.name === name)) return `Another tool is already called ${name}.`;
  return "";
}

export type SchemaText = { schema: JsonSchema | null; problem: string };

/** An arguments schema typed as JSON text: empty is "none" (the kind's default), else it must be
 * a JSON object schema with "type": "object" and, when given, object `properties` and a `required` list. */
export function readSchema(text: string): SchemaText {
  if (text.trim() === "") return { schema: null, problem: "" };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { schema: null, problem: `Not valid JSON: ${error instanceof Error ? error.message : String(error)}` };
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) return { schema: null, problem: "A JSON Schema is an object." };
  const schema = value as JsonSchema;
  if (schema.type !== "object") return { schema: null, problem: 'A tool\'s arguments are an object: the schema needs "type": "object".' };
  const properties = schema.properties;
  if (properties !== undefined && (typeof properties !== "object" || properties === null || Array.isArray(properties))) {
    return { schema: null, problem: '"properties" must be an object of field schemas.' };
  }
  const required = schema.required;
  if (required !== undefined && (!Array.isArray(required) || required.some((name) => typeof name !== "string"))) {
    return { schema: null, problem: '"required" must be a list of field names.' };
  }
  return { schema, problem: "" };
}

/** The schema as the text field shows it. */
export function schemaText(schema: unknown): string {
  return schema && typeof schema === "object" ? JSON.stringify(schema, null, 2) : "";
}

/** The argument schema the model will see when the tool sets none: the engine's default per kind. */
export function defaultArguments(kind: string, workflowInput?: JsonSchema | null): JsonSchema | null {
  if (kind === "knowledge") return { type: "object", properties: { query: { type: "string", minLength: 1 } }, required: ["query"] };
  if (kind === "workflow") return workflowInput ?? null;
  return { type: "object", properties: {} };
}

/** A tool's problems from the graph's validation: those at `params.tools.<index>[.field]`, and the
 * params-level ones naming it ("tools.1.name: another tool..."), keyed by field ("" for the tool itself). */
export function toolProblems(fieldProblems: Record<string, string[]> | undefined, index: number): Record<string, string[]> {
  const found: Record<string, string[]> = {};
  const add = (field: string, message: string) => {
    found[field] = [...(found[field] ?? []), message];
  };
  const prefix = `params.tools.${index}`;
  for (const [key, messages] of Object.entries(fieldProblems ?? {})) {
    if (key === prefix || key.startsWith(`${prefix}.`)) {
      const field = key.slice(prefix.length + 1).split(".")[0] ?? "";
      for (const message of messages) add(field, message);
    } else if (key === "params" || key === "params.tools") {
      for (const message of messages) {
        const named = new RegExp(`\\btools\\.${index}\\.([A-Za-z_]+)`).exec(message);
        if (named) add(named[1], message);
      }
    }
  }
  return found;
}

/** An MCP server of the workspace as GET /api/v1/mcp-servers/names lists it. */
export interface McpServerName {
  id: number;
  name: string;
}

/** A server's tools as GET /api/v1/mcp-servers/{id}/tools lists them (`error` says why not). */
export interface McpListing {
  ok: boolean;
  tools: { name: string; description: string; input_schema: JsonSchema }[];
  error: string | null;
}

export interface McpChoice {
  name: string;
  description: string;
  ticked: boolean;
  /** False for an allowlisted name the server did not list (renamed or removed there). */
  offered: boolean;
}

/** The tool's allowlist (its `tools` field): the server's tool names the agent may call; empty is every one. */
export function allowedOf(tool: Tool): string[] {
  return Array.isArray(tool.tools) ? tool.tools.filter((name): name is string => typeof name === "string") : [];
}

/** The allowlist's checkboxes: the server's tools in its order, then allowlisted names it does not offer. */
export function mcpChoices(tool: Tool, listing: McpListing | null): McpChoice[] {
  const allowed = allowedOf(tool);
  const listed = listing?.tools ?? [];
  const offered = new Set(listed.map((each) => each.name));
  return [
    ...listed.map((each) => ({ name: each.name, description: each.description, ticked: allowed.includes(each.name), offered: true })),
    ...allowed.filter((name) => !offered.has(name)).map((name) => ({ name, description: "", ticked: true, offered: false })),
  ];
}

/** The allowlist with `name` ticked or not, in the server's order (names it does not offer last). */
export function toggledAllow(tool: Tool, name: string, on: boolean, listing: McpListing | null): string[] {
  const kept = new Set(allowedOf(tool).filter((each) => each !== name));
  if (on) kept.add(name);
  return mcpChoices({ ...tool, tools: [...kept] }, listing)
    .filter((choice) => choice.ticked)
    .map((choice) => choice.name);
}

/** What is wrong with an MCP tool's settings, by field: no server chosen, one the workspace lacks, or
 * allowlisted names the server did not list (its listing failed: nothing is said of the names). */
export function mcpProblems(tool: Tool, servers: McpServerName[] | null, listing: McpListing | null): Record<string, string[]> {
  const found: Record<string, string[]> = {};
  const server = typeof tool.server === "string" ? tool.server : "";
  if (!server) found.server = ["Choose an MCP server."];
  else if (servers && !servers.some((each) => each.name === server)) found.server = [`There is no MCP server ${server} in this workspace.`];
  if (listing?.ok) {
    const missing = mcpChoices(tool, listing).filter((choice) => !choice.offered);
    if (missing.length) found.tools = [`The server does not offer ${missing.map((choice) => choice.name).join(", ")}: untick it or check the server.`];
  }
  return found;
}
