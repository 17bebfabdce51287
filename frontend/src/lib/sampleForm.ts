// The test bar's sample-input form: fields from the trigger's `input_schema` (engine/nodes/
// trigger.py), and the messages for an input that does not fit it. The server checks the input
// against the whole schema when the run starts; this covers what a form can show per field.

import type { GraphV1 } from "./graph";
import type { JsonSchema, NodeKind } from "./nodeKinds";

export type FieldType = "string" | "number" | "integer" | "boolean" | "enum" | "json";

export interface InputField {
  name: string;
  title: string;
  description: string;
  type: FieldType;
  required: boolean;
  choices: unknown[];
  /** For a JSON field: the JSON type it must have ("" when any). */
  jsonType: "object" | "array" | "";
}

/** The input schema of the graph's (first) trigger, or an empty object schema. */
export function triggerSchema(graph: GraphV1, kinds: Map<string, NodeKind>): JsonSchema {
  const trigger = graph.nodes.find((node) => kinds.get(node.type)?.is_trigger);
  const schema = trigger?.params?.input_schema;
  return schema && typeof schema === "object" && !Array.isArray(schema) ? (schema as JsonSchema) : { type: "object" };
}

function typeOf(schema: JsonSchema): FieldType {
  if (Array.isArray(schema.enum) && schema.enum.length) return "enum";
  const declared = Array.isArray(schema.type) ? schema.type.filter((t) => t !== "null") : [schema.type];
  const [type] = declared;
  if (declared.length === 1 && (type === "string" || type === "number" || type === "integer" || type === "boolean")) return type;
  return "json";
}

/** One field per top-level property, required ones first marked. */
export function inputFields(schema: JsonSchema): InputField[] {
  const required = new Set(schema.required ?? []);
  return Object.entries(schema.properties ?? {}).map(([name, property]) => ({
    name,
    title: typeof property.title === "string" && property.title ? property.title : name,
    description: typeof property.description === "string" ? property.description : "",
    type: typeOf(property),
    required: required.has(name),
    choices: Array.isArray(property.enum) ? property.enum : [],
    jsonType: property.type === "object" || property.type === "array" ? property.type : "",
  }));
}

/** Why `input` does not fit the fields, by field name ("" for the input as a whole). */
export function sampleProblems(schema: JsonSchema, input: unknown): Record<string, string> {
  if (!input || typeof input !== "object" || Array.isArray(input)) return { "": "The input must be a JSON object" };
  const values = input as Record<string, unknown>;
  const problems: Record<string, string> = {};
  for (const field of inputFields(schema)) {
    const value = values[field.name];
    if (value === undefined || value === "") {
      if (field.required) problems[field.name] = `${field.title} is required`;
      continue;
    }
    if (field.type === "number" && (typeof value !== "number" || !Number.isFinite(value))) problems[field.name] = `${field.title} must be a number`;
    else if (field.type === "integer" && !Number.isInteger(value)) problems[field.name] = `${field.title} must be a whole number`;
    else if (field.type === "string" && typeof value !== "string") problems[field.name] = `${field.title} must be text`;
    else if (field.type === "boolean" && typeof value !== "boolean") problems[field.name] = `${field.title} must be true or false`;
    else if (field.type === "enum" && !field.choices.some((choice) => JSON.stringify(choice) === JSON.stringify(value)))
      problems[field.name] = `${field.title} must be one of ${field.choices.map((c) => JSON.stringify(c)).join(", ")}`;
    else if (field.jsonType === "array" && !Array.isArray(value)) problems[field.name] = `${field.title} must be a JSON list`;
    else if (field.jsonType === "object" && (typeof value !== "object" || value === null || Array.isArray(value))) problems[field.name] = `${field.title} must be a JSON object`;
  }
  return problems;
}

/** The sample text as an object, or null when it is not a JSON object. */
export function parseSample(text: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(text || "{}");
    return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** The input with one field set from a form control's text; an empty text removes the field. */
export function withField(input: Record<string, unknown>, field: InputField, raw: string | boolean): Record<string, unknown> {
  const next = { ...input };
  if (raw === "") {
    delete next[field.name];
    return next;
  }
  if (field.type === "boolean") next[field.name] = raw === true || raw === "true";
  else if (field.type === "number" || field.type === "integer") next[field.name] = Number.isFinite(Number(raw)) ? Number(raw) : raw;
  else if (field.type === "enum") next[field.name] = field.choices.find((choice) => String(choice) === raw) ?? raw;
  else if (field.type === "json") {
    try {
      next[field.name] = JSON.parse(String(raw));
    } catch {
      next[field.name] = raw;
    }
  } else next[field.name] = raw;
  return next;
}
