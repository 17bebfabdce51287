import { describe, expect, it } from "vitest";
import { calledGraph, inputFields, itemExpressions, mappingOf, schemaFromMapping, validFieldName, withMapping } from "./calls";

const SCHEMA = { type: "object", properties: { text: { type: "string", description: "the document" }, lang: { enum: ["en", "fr"] } }, required: ["text"] };

describe("input mapping of nodes calling a workflow", () => {
  it("lists the schema's fields in order, then mapped keys the schema lacks", () => {
    expect(inputFields(SCHEMA, { text: "{{ item }}", stale: "x" })).toEqual([
      { name: "text", type: "string", required: true, description: "the document", extra: false },
      { name: "lang", type: 'one of "en", "fr"', required: false, description: "", extra: false },
      { name: "stale", type: "any", required: false, description: "", extra: true },
    ]);
  });

  it("keeps a free-form schema's mapped keys without calling them extra", () => {
    expect(inputFields({ type: "object" }, { a: "1" })).toEqual([{ name: "a", type: "any", required: false, description: "", extra: false }]);
    expect(inputFields(undefined, "{{ item }}")).toEqual([]);
  });

  it("reads a whole-input template as no field, and non-text values as JSON", () => {
    expect(mappingOf("{{ item }}")).toEqual({});
    expect(mappingOf({ n: 3, t: "{{ index }}" })).toEqual({ n: "3", t: "{{ index }}" });
  });

  it("sets and clears one field's template", () => {
    expect(withMapping("{{ item }}", "text", "{{ item.body }}")).toEqual({ text: "{{ item.body }}" });
    expect(withMapping({ text: "a", lang: "en" }, "lang", "")).toEqual({ text: "a" });
  });

  it("builds a new called workflow's trigger from the mapped fields", () => {
    expect(schemaFromMapping({ text: "{{ item }}", n: "{{ index }}" })).toEqual({ type: "object", properties: { text: {}, n: {} }, required: ["text", "n"] });
    expect(schemaFromMapping("{{ item }}")).toEqual({ type: "object" });
    const graph = calledGraph({ text: "{{ item }}" });
    expect(graph.nodes).toHaveLength(1);
    expect(graph.nodes[0]).toMatchObject({ type: "trigger", params: { input_schema: { required: ["text"] } } });
  });

  it("offers item and index only to for_each", () => {
    expect(itemExpressions("for_each")).toEqual(["{{ item }}", "{{ index }}"]);
    expect(itemExpressions("subworkflow")).toEqual([]);
  });

  it("accepts field names templates can reach", () => {
    expect(validFieldName("doc_1")).toBe(true);
    expect(validFieldName("1doc")).toBe(false);
    expect(validFieldName("a b")).toBe(false);
  });
});
