import { describe, expect, it } from "vitest";
import { documentsUrl, isDocumentPrompt } from "./liveKnowledge";

describe("isDocumentPrompt", () => {
  it("accepts prompts about this knowledge base's documents", () => {
    expect(isDocumentPrompt({ type: "knowledge.document", knowledge_base: 7, document: 3 }, 7)).toBe(true);
  });

  it("ignores other knowledge bases, other prompts and junk", () => {
    expect(isDocumentPrompt({ type: "knowledge.document", knowledge_base: 8 }, 7)).toBe(false);
    expect(isDocumentPrompt({ type: "run.updated", knowledge_base: 7 }, 7)).toBe(false);
    expect(isDocumentPrompt({ type: "knowledge.document", knowledge_base: "7" }, 7)).toBe(false);
    expect(isDocumentPrompt(null, 7)).toBe(false);
    expect(isDocumentPrompt("knowledge.document", 7)).toBe(false);
  });
});

describe("documentsUrl", () => {
  it("asks the knowledge base's own page, wherever the address bar stands", () => {
    const list = { dataset: { documentsUrl: "/knowledge/7/" } };
    expect(documentsUrl(list)).toBe("/knowledge/7/");
  });
});
