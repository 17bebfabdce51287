import { describe, expect, it } from "vitest";
import { outcomeBars, versionLines } from "./qualityChart";

const overTime = {
  headers: ["Period", "Version", "Runs", "Auto-resolved (%)"],
  rows: [
    ["2026-11-01", 1, 4, "50.0"],
    ["2026-11-02", 2, 2, "100.0"],
    ["2026-11-02", 1, 1, null],
  ],
};

describe("versionLines", () => {
  it("draws one line per version over every period, with gaps where a version did not run", () => {
    const chart = versionLines(overTime, "Auto-resolved (%)");
    expect(chart.labels).toEqual(["2026-11-01", "2026-11-02"]);
    expect(chart.datasets.map((set) => set.label)).toEqual(["v1", "v2"]);
    expect(chart.datasets[0].data).toEqual([50, null]);
    expect(chart.datasets[1].data).toEqual([null, 100]);
  });

  it("draws nothing for a column the table does not have", () => {
    expect(versionLines(overTime, "Latency p50 (s)").datasets).toEqual([]);
  });
});

describe("outcomeBars", () => {
  it("stacks approved, edited and rejected per version, oldest first", () => {
    const chart = outcomeBars({
      headers: ["Version", "Approved as is", "Edited", "Rejected"],
      rows: [
        [2, 0, 1, 0],
        [1, 3, 2, 1],
      ],
    });
    expect(chart.labels).toEqual(["v1", "v2"]);
    expect(chart.datasets.map((set) => set.label)).toEqual(["Approved as is", "Edited", "Rejected"]);
    expect(chart.datasets[1].data).toEqual([2, 1]);
  });
});
