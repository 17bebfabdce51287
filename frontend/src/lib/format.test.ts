import { describe, expect, it } from "vitest";
import { formatCost, formatDuration, prettyJSON, tokenSummary } from "./format";

describe("format", () => {
  it("formats durations", () => {
    expect(formatDuration(null)).toBe("");
    expect(formatDuration(12)).toBe("12 ms");
    expect(formatDuration(1234)).toBe("1.2 s");
    expect(formatDuration(59_940)).toBe("59.9 s");
    expect(formatDuration(185_000)).toBe("3 min 05 s");
    expect(formatDuration(3 * 3600_000 + 60_000)).toBe("3 h 01 min");
  });

  it("formats decimal-string costs", () => {
    expect(formatCost("0.000000")).toBe("$0.00");
    expect(formatCost("0.001200")).toBe("$0.0012");
    expect(formatCost("12.5")).toBe("$12.50");
    expect(formatCost(null)).toBe("");
  });

  it("summarises token usage under either naming", () => {
    expect(tokenSummary({ input_tokens: 1200, output_tokens: 30 })).toBe("1,230 tokens (1,200 in, 30 out)");
    expect(tokenSummary({ prompt_tokens: 5, completion_tokens: 6, total_tokens: 11 })).toBe("11 tokens (5 in, 6 out)");
    expect(tokenSummary({ model: "x" })).toBe("");
    expect(tokenSummary(null)).toBe("");
  });

  it("renders JSON and model text as plain text", () => {
    expect(prettyJSON({ a: 1 })).toBe('{\n  "a": 1\n}');
    expect(prettyJSON("<b>hi</b>")).toBe("<b>hi</b>");
    expect(prettyJSON(undefined)).toBe("");
  });
});
