import { describe, expect, it, vi } from "vitest";
import { coalesce, isRunUpdate, nextDelay, rowsUrl } from "./liveRuns";

describe("rowsUrl", () => {
  it("keeps the filters", () => {
    expect(rowsUrl({ pathname: "/runs/", search: "?status=failed&before=9" })).toBe("/runs/?status=failed&before=9");
    expect(rowsUrl({ pathname: "/runs/", search: "" })).toBe("/runs/");
  });
});

describe("isRunUpdate", () => {
  it("recognises run updates only", () => {
    expect(isRunUpdate({ type: "run.updated", run: 1 })).toBe(true);
    expect(isRunUpdate({ type: "subscribed" })).toBe(false);
    expect(isRunUpdate(null)).toBe(false);
  });
});

describe("nextDelay", () => {
  it("backs off exponentially with jitter and a cap", () => {
    expect(nextDelay(0, () => 0)).toBe(250);
    expect(nextDelay(0, () => 1)).toBe(500);
    expect(nextDelay(3, () => 1)).toBe(4000);
    expect(nextDelay(20, () => 1)).toBe(10_000);
  });
});

describe("coalesce", () => {
  it("turns a burst of prompts into one refresh", () => {
    vi.useFakeTimers();
    const refresh = vi.fn();
    const prompt = coalesce(refresh, 250);
    for (let i = 0; i < 50; i++) prompt();
    vi.advanceTimersByTime(300);
    expect(refresh).toHaveBeenCalledTimes(1);
    prompt();
    vi.advanceTimersByTime(300);
    expect(refresh).toHaveBeenCalledTimes(2);
    vi.useRealTimers();
  });
});
