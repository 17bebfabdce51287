import { describe, expect, it } from "vitest";
import { datasets } from "./costChart";

describe("datasets", () => {
  it("makes one stacked series per column between the period and the total", () => {
    const table = {
      headers: ["Period", "Triage", "Other", "Total"],
      rows: [
        ["2026-11-01", "1.500000", "0.25", "1.750000"],
        ["2026-11-02", "0", "0", "0"],
      ],
    };
    const chart = datasets(table);
    expect(chart.labels).toEqual(["2026-11-01", "2026-11-02"]);
    expect(chart.datasets.map((set) => set.label)).toEqual(["Triage", "Other"]);
    expect(chart.datasets[0].data).toEqual([1.5, 0]);
    expect(chart.datasets[1].backgroundColor).toBe("#999999");
  });

  it("draws no series when there were no calls", () => {
    expect(datasets({ headers: ["Period", "Total"], rows: [["2026-11-01", "0"]] }).datasets).toEqual([]);
  });
});
