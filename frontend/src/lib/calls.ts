// Nodes that call another workflow (`subworkflow`, `for_each`): the workflows they may call as
// GET /api/v1/workflows/{id}/callable lists them, and the input mapping: one template per field of
// the called workflow's trigger input schema. Pure: shared by the designer panel and its tests.

import type { GraphV1 } from "./graph";
import type { JsonSchema } from "./nodeKinds";

export const CALL_KINDS = new Set(["subworkflow", "for_each"]);

export interface CallableWorkflow {
  id: number;
  name: string;
  latest_version: number;
  versions: number[];
  input_schema: JsonSchema;
  designer_url: string;
}

export interface InputField {
  name: string;
  type: string;
  required: boolean;
  description: string;
  /** A key of the node's input that the called workflow's schema does not have. */
  extra: boolean;
}

function typeOf(schema: JsonSchema | undefined): string {
  if (!schema) return "any";
  if (Array.isArray(schema.type)) return schema.type.join(" | ");
  return schema.type ?? (schema.enum ? "one of " + schema.enum.map((v) => JSON.stringify(v)).join(", ") : "any");
}

/** The mapping's rows: the schema's fields in order, then keys of `input` the schema does not name. */
export function inputFields(schema: JsonSchema | undefined, input: unknown): InputField[] {
  const required = new Set(schema?.required ?? []);
  const rows: InputField[] = Object.entries(schema?.properties ?? {}).map(([name, property]) => ({
    name,
    type: typeOf(property),
    required: required.has(name),
    description: property.description ?? "",
    extra: false,
  }));
  const known = new Set(rows.map((row) => row.name));
  for (const name of Object.keys(mappingOf(input))) {
    if (!known.has(name)) rows.push({ name, type: "any", required: false, description: "", extra: !!schema?.properties });
  }
  return rows;
}

/** The node's input as field → template text; a whole-input template (e.g. "{{ item }}") maps no field. */
export function mappingOf(input: unknown): Record<string, string> {
  if (!input || typeof input !== "object" || Array.isArray(input)) return {};
  return Object.fromEntries(Object.entries(input).map(([name, value]) => [name, typeof value === "string" ? value : JSON.stringify(value)]));
}

/** The input with one field's template set; an empty template removes the field. */
export function withMapping(input: unknown, field: string, text: string): Record<string, string> {
  const next = { ...mappingOf(input) };
  if (text === "") delete next[field];
  else next[field] = text;
  return next;
}

/** The trigger input schema of a new called workflow: one required field per mapped field. */
export function schemaFromMapping(input: unknown): JsonSchema {
  const names = Object.keys(mappingOf(input));
  if (!names.length) return { type: "object" };
  return { type: "object", properties: Object.fromEntries(names.map((name) => [name, {}])), required: names };
}

/** The draft of a new called workflow: a trigger taking that input. */
export function calledGraph(input: unknown): GraphV1 {
  return {
    schema_version: 1,
    nodes: [{ id: "start", type: "trigger", label: "Start", position: { x: 0, y: 0 }, params: { input_schema: schemaFromMapping(input) } }],
    edges: [],
  };
}

/** Expressions only a for_each node's input templates can use, beside the upstream outputs. */
export function itemExpressions(kind: string): string[] {
  return kind === "for_each" ? ["{{ item }}", "{{ index }}"] : [];
}

/** A field name the trigger schema and templates can both use. */
export function validFieldName(name: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(name);
}
