import { describe, expect, it } from "vitest";
import type { GraphV1 } from "./graph";
import type { NodeKind } from "./nodeKinds";
import { inputFields, parseSample, sampleProblems, triggerSchema, withField } from "./sampleForm";

const trigger: NodeKind = { kind: "trigger", label: "Trigger", category: "Triggers", description: "", inputs: [], outputs: ["out"], side_effect: false, is_trigger: true, params_schema: { type: "object" } };
const kinds = new Map([["trigger", trigger]]);

describe("the sample input form", () => {
  const schema = {
    type: "object",
    required: ["name"],
    properties: {
      name: { type: "string", title: "Name" },
      count: { type: "integer" },
      ratio: { type: "number" },
      urgent: { type: "boolean" },
      tier: { enum: ["free", "pro"] },
      tags: { type: "array", items: { type: "string" } },
    },
  };

  it("builds one field per property, typed, with required marks", () => {
    expect(inputFields(schema).map((f) => [f.name, f.type, f.required])).toEqual([
      ["name", "string", true],
      ["count", "integer", false],
      ["ratio", "number", false],
      ["urgent", "boolean", false],
      ["tier", "enum", false],
      ["tags", "json", false],
    ]);
  });

  it("finds the trigger's schema in the graph", () => {
    const graph: GraphV1 = { schema_version: 1, nodes: [{ id: "t", type: "trigger", params: { input_schema: schema } }], edges: [] };
    expect(triggerSchema(graph, kinds)).toBe(schema);
    expect(triggerSchema({ ...graph, nodes: [] }, kinds)).toEqual({ type: "object" });
  });

  it("says what is wrong, field by field", () => {
    expect(sampleProblems(schema, {})).toEqual({ name: "Name is required" });
    expect(sampleProblems(schema, { name: "Ada", count: 1.5, ratio: "x", urgent: "yes", tier: "gold", tags: "a" })).toEqual({
      count: "count must be a whole number",
      ratio: "ratio must be a number",
      urgent: "urgent must be true or false",
      tier: 'tier must be one of "free", "pro"',
      tags: "tags must be a JSON list",
    });
    expect(sampleProblems(schema, { name: "Ada", count: 2, tier: "pro", tags: ["a"] })).toEqual({});
    expect(sampleProblems(schema, [])).toEqual({ "": "The input must be a JSON object" });
  });

  it("sets a field from a control's text, typed", () => {
    const [name, count, , urgent, tier, tags] = inputFields(schema);
    let input = withField({}, name, "Ada");
    input = withField(input, count, "3");
    input = withField(input, urgent, true);
    input = withField(input, tier, "pro");
    input = withField(input, tags, '["a"]');
    expect(input).toEqual({ name: "Ada", count: 3, urgent: true, tier: "pro", tags: ["a"] });
    expect(withField(input, name, "")).not.toHaveProperty("name");
    expect(parseSample("[1]")).toBeNull();
    expect(parseSample("")).toEqual({});
  });
});
