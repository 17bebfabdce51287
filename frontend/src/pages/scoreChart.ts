// The comparison page's score distributions: rows per score of one scorer, the two eval runs side by side.

export interface Distribution {
  labels: string[];
  base: number[];
  candidate: number[];
}

export interface Dataset {
  label: string;
  data: number[];
  backgroundColor: string;
}

// Okabe–Ito blue (before) and orange (after): colour-blind safe.
export function scoreBars(
  distribution: Distribution,
  baseLabel: string,
  candidateLabel: string,
): { labels: string[]; datasets: Dataset[] } {
  return {
    labels: distribution.labels,
    datasets: [
      { label: baseLabel, data: distribution.base, backgroundColor: "#0072B2" },
      { label: candidateLabel, data: distribution.candidate, backgroundColor: "#E69F00" },
    ],
  };
}
