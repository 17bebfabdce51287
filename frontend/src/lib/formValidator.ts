// The validator rjsf needs, without ajv: ajv compiles schemas with `new Function`, which our
// Content-Security-Policy (script-src 'self', no 'unsafe-eval') rightly forbids. The server
// validates every save (engine/graph.py) and its problems are shown on their fields, so the
// form only needs `isValid` to choose among anyOf/oneOf options: a structural check does that.

import type { RJSFSchema, ValidatorType } from "@rjsf/utils";

function resolve(schema: RJSFSchema, root: RJSFSchema): RJSFSchema {
  const ref = schema.$ref;
  if (typeof ref !== "string" || !ref.startsWith("#/")) return schema;
  let found: unknown = root;
  for (const part of ref.slice(2).split("/")) found = (found as Record<string, unknown> | undefined)?.[part];
  return (found as RJSFSchema | undefined) ?? schema;
}

function typeOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

/** Whether `value` fits `schema` by type, enum, const and required keys (not by every keyword). */
export function fits(schema: RJSFSchema, value: unknown, root: RJSFSchema): boolean {
  const s = resolve(schema, root);
  if (s.const !== undefined && s.const !== value) return false;
  if (Array.isArray(s.enum) && !s.enum.includes(value as never)) return false;
  if (s.type !== undefined) {
    const types: string[] = Array.isArray(s.type) ? s.type : [s.type];
    const actual = typeOf(value);
    if (!types.includes(actual) && !(actual === "integer" && types.includes("number"))) return false;
  }
  if (Array.isArray(s.required) && value && typeof value === "object" && s.required.some((key) => !(key in (value as object)))) return false;
  const options = (s.anyOf ?? s.oneOf) as RJSFSchema[] | undefined;
  if (options && !options.some((option) => fits(option, value, root))) return false;
  return true;
}

export const formValidator: ValidatorType = {
  validateFormData: () => ({ errors: [], errorSchema: {} }),
  isValid: (schema, formData, rootSchema) => fits(schema, formData, rootSchema),
  rawValidation: () => ({ errors: [] }),
};
