// The Quality tab's chart data: the server's tables turned into Chart.js datasets, so the
// charts can never disagree with the tables below them.

export interface QualityTable {
  headers: string[];
  rows: (string | number | null)[][];
}

export interface QualityData {
  over_time: QualityTable;
  by_version: QualityTable;
}

export interface Dataset {
  label: string;
  data: (number | null)[];
  backgroundColor: string;
  borderColor: string;
  spanGaps?: boolean;
}

// Colour-blind-safe (Okabe–Ito).
const PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999"];
const OUTCOMES = ["Approved as is", "Edited", "Rejected"];

function numberOrNull(cell: string | number | null | undefined): number | null {
  return cell === null || cell === undefined || cell === "" ? null : Number(cell);
}

// One line per version over the periods of `column`; a period in which a version did not run is a gap.
export function versionLines(table: QualityTable, column: string): { labels: string[]; datasets: Dataset[] } {
  const at = table.headers.indexOf(column);
  const periodAt = table.headers.indexOf("Period");
  const versionAt = table.headers.indexOf("Version");
  if (at < 0 || periodAt < 0 || versionAt < 0) return { labels: [], datasets: [] };
  const labels = [...new Set(table.rows.map((row) => String(row[periodAt])))];
  const versions = [...new Set(table.rows.map((row) => Number(row[versionAt])))].sort((a, b) => a - b);
  const datasets = versions.map((version, index) => {
    const byPeriod = new Map(
      table.rows.filter((row) => Number(row[versionAt]) === version).map((row) => [String(row[periodAt]), row[at]]),
    );
    const colour = PALETTE[index % PALETTE.length];
    return {
      label: `v${version}`,
      data: labels.map((period) => numberOrNull(byPeriod.get(period))),
      backgroundColor: colour,
      borderColor: colour,
      spanGaps: true,
    };
  });
  return { labels, datasets };
}

// Review outcomes per version as stacked bars, oldest version first.
export function outcomeBars(table: QualityTable): { labels: string[]; datasets: Dataset[] } {
  const versionAt = table.headers.indexOf("Version");
  const rows = [...table.rows].sort((a, b) => Number(a[versionAt]) - Number(b[versionAt]));
  return {
    labels: rows.map((row) => `v${row[versionAt]}`),
    datasets: OUTCOMES.map((outcome, index) => {
      const at = table.headers.indexOf(outcome);
      return {
        label: outcome,
        data: rows.map((row) => numberOrNull(row[at]) ?? 0),
        backgroundColor: PALETTE[index],
        borderColor: PALETTE[index],
      };
    }),
  };
}
