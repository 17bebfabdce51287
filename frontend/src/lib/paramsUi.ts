// The rjsf uiSchema for a node type's params: long text (prompts, templates, answers) gets a
// large editor; free-form values (objects without fields, "any") are edited as JSON.

import type { JsonSchema } from "./nodeKinds";

const LONG_TEXT = /prompt|template|instructions|answer|body|system|message|context|expression|reason/i;

export function isFreeForm(schema: JsonSchema): boolean {
  if (schema.$ref || schema.enum) return false;
  if (schema.type === "object") return !schema.properties;
  if (schema.type === undefined) return !schema.anyOf || schema.anyOf.some((option) => option.type === "object" && !option.properties);
  return false;
}

/** GET /api/v1/providers (AI nodes): where it exists, provider and model fields suggest from it. */
export interface ProviderChoice {
  name: string;
  kind: string;
  label: string;
  models: string[];
}

/** Suggestions for a `provider` or `model` field; models of the chosen provider when one is chosen. */
export function suggestionsFor(field: string, providers: ProviderChoice[], params: Record<string, unknown>): string[] {
  if (field === "provider") return providers.map((p) => p.name);
  const chosen = providers.filter((p) => !params.provider || p.name === params.provider);
  return [...new Set(chosen.flatMap((p) => p.models))];
}

const SUGGESTED = new Set(["provider", "model"]);

export function uiSchemaFor(schema: JsonSchema, providers: ProviderChoice[] = []): Record<string, unknown> {
  const ui: Record<string, unknown> = { "ui:submitButtonOptions": { norender: true } };
  for (const [name, property] of Object.entries(schema.properties ?? {})) {
    if (providers.length && SUGGESTED.has(name) && property.type === "string" && !property.enum) ui[name] = { "ui:widget": "suggest" };
    else if (isFreeForm(property)) ui[name] = { "ui:field": "json" };
    else if (property.type === "string" && !property.enum && (LONG_TEXT.test(name) || Number(property.maxLength ?? 0) > 500)) {
      ui[name] = { "ui:widget": "textarea", "ui:options": { rows: 8 }, "ui:classNames": "dz-prompt" };
    }
  }
  return ui;
}

/** rjsf's extraErrors from field problems keyed `params.<name>`. */
export function extraErrorsFor(fields: Record<string, string[]> | undefined): Record<string, { __errors: string[] }> {
  const errors: Record<string, { __errors: string[] }> = {};
  for (const [field, messages] of Object.entries(fields ?? {})) {
    if (field.startsWith("params.")) errors[field.slice("params.".length)] = { __errors: messages };
  }
  return errors;
}

/** `text` with `insert` put at [start, end), for the expression picker. */
export function spliceText(text: string, start: number | null, end: number | null, insert: string): string {
  const from = start ?? text.length;
  return text.slice(0, from) + insert + text.slice(end ?? from);
}

/** What a free-form field holds: nothing, a JSON object/array/number/boolean, or else the text itself. */
export function readValue(text: string): unknown {
  if (text.trim() === "") return undefined;
  if (!/^\s*[[{0-9tfn-]/.test(text)) return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** Whether the form really changed the params: rjsf reports a change when it merely fills in
 * absent optional fields as null on opening, which must not count as an edit. */
export function paramsChanged(old: Record<string, unknown>, next: Record<string, unknown>): boolean {
  const keys = new Set([...Object.keys(old), ...Object.keys(next)]);
  return [...keys].some((key) => JSON.stringify(old[key] ?? null) !== JSON.stringify(next[key] ?? null));
}

/** The schema the form renders: no root title (the panel names the node), and pydantic's
 * optional fields (`anyOf: [X, {type: null}]`) as plain X fields that may stay empty. */
export function formSchema(schema: JsonSchema): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  for (const [name, property] of Object.entries(schema.properties ?? {})) {
    const options = property.anyOf ?? [];
    const real = options.filter((option) => option.type !== "null");
    const optional = options.length === 2 && real.length === 1 && !isFreeForm(real[0]);
    const { anyOf: _dropped, ...rest } = property;
    properties[name] = optional ? { ...real[0], ...rest, default: property.default ?? undefined } : property;
  }
  const { title: _title, ...root } = schema;
  return { ...root, properties };
}
