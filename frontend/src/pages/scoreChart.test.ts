import { describe, expect, it } from "vitest";
import { scoreBars } from "./scoreChart";

describe("scoreBars", () => {
  it("puts the two runs' counts side by side per score", () => {
    const chart = scoreBars({ labels: ["0", "1"], base: [2, 8], candidate: [5, 5] }, "v1", "draft (revision 4)");
    expect(chart.labels).toEqual(["0", "1"]);
    expect(chart.datasets.map((set) => set.label)).toEqual(["v1", "draft (revision 4)"]);
    expect(chart.datasets[1].data).toEqual([5, 5]);
  });
});
