// The cost report's chart data: the server's table (period, one column per series, total)
// turned into Chart.js datasets, so the chart can never disagree with the table beside it.

export interface CostTable {
  headers: string[];
  rows: (string | number)[][];
}

export interface Dataset {
  label: string;
  data: number[];
  backgroundColor: string;
}

// Colour-blind-safe (Okabe–Ito), then grey for "Other".
const PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999"];

export function datasets(table: CostTable): { labels: string[]; datasets: Dataset[] } {
  const series = table.headers.slice(1, -1);
  return {
    labels: table.rows.map((row) => String(row[0])),
    datasets: series.map((label, index) => ({
      label,
      data: table.rows.map((row) => Number(row[index + 1])),
      backgroundColor: label === "Other" ? "#999999" : PALETTE[index % PALETTE.length],
    })),
  };
}
