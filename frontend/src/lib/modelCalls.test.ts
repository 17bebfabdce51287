import { describe, expect, it } from "vitest";
import { callSummary, modelCalls } from "./modelCalls";

const usage = {
  input_tokens: 1310,
  output_tokens: 647,
  calls: [
    {
      call: 0,
      provider: "fake",
      provider_kind: "openai_compatible",
      model: "gpt-test",
      prompt: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "<b>Charged twice</b>" },
      ],
      response: '{"reply": 42}',
      tokens_in: 1000,
      tokens_out: 500,
      cost: "0.007500",
      latency_ms: 512,
      cached: false,
    },
    { call: 1, provider: "fake", model: "gpt-test", prompt: [], response: "ok", tokens_in: 310, tokens_out: 147, cost: "0.000000", latency_ms: 0, cached: true },
    { call: 2, provider: "builtin", provider_kind: "builtin", model: "builtin-extractive", tokens_in: 3, tokens_out: 2, cost: "0.000000", latency_ms: 1 },
    "not a call",
  ],
};

describe("model calls", () => {
  it("reads the calls of a node's usage", () => {
    const calls = modelCalls(usage);
    expect(calls).toHaveLength(3);
    expect(calls[0]).toMatchObject({ call: 0, provider: "fake", model: "gpt-test", tokensIn: 1000, tokensOut: 500, cost: "0.007500", latencyMs: 512, cached: false });
    expect(calls[0].prompt).toEqual([
      { role: "system", content: "Be brief." },
      { role: "user", content: "<b>Charged twice</b>" },
    ]);
    expect(calls[1].cached).toBe(true);
  });

  it("finds none in usage without calls", () => {
    expect(modelCalls(null)).toEqual([]);
    expect(modelCalls({ total_tokens: 3 })).toEqual([]);
    expect(modelCalls({ calls: "nope" })).toEqual([]);
  });

  it("sums a call up in one line", () => {
    const [paid, cached, offline] = modelCalls(usage);
    expect(callSummary(paid)).toBe("fake · gpt-test · 1,000 in / 500 out · $0.0075 · 512 ms");
    expect(callSummary(cached)).toBe("fake · gpt-test · 310 in / 147 out · $0.00 · from cache");
    expect(callSummary(offline)).toBe("built-in (offline) · builtin-extractive · 3 in / 2 out · $0.00 · 1 ms");
  });
});
