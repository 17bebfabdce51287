// The eval comparison page only: Chart.js draws each scorer's score distribution, both runs side by side.
import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, Tooltip } from "chart.js";
import { type Distribution, scoreBars } from "./scoreChart";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip);

class ScoreChart extends HTMLElement {
  private chart: Chart | null = null;

  connectedCallback(): void {
    const source = document.getElementById(this.dataset.table ?? "");
    const canvas = this.querySelector("canvas");
    if (!source || !canvas) return;
    const charts = JSON.parse(source.textContent ?? "{}") as Record<string, Distribution>;
    const scorer = this.dataset.scorer ?? "";
    const distribution = charts[scorer] ?? { labels: [], base: [], candidate: [] };
    this.chart = new Chart(canvas, {
      type: "bar",
      data: scoreBars(distribution, this.dataset.base ?? "before", this.dataset.candidate ?? "after"),
      options: {
        animation: false,
        maintainAspectRatio: false,
        scales: { x: { title: { display: true, text: "score" } }, y: { beginAtZero: true, title: { display: true, text: "rows" } } },
        plugins: { title: { display: true, text: scorer }, legend: { position: "bottom" } },
      },
    });
    this.dataset.drawn = String(this.chart.data.datasets.length);
  }

  disconnectedCallback(): void {
    this.chart?.destroy();
    this.chart = null;
  }
}

if (!customElements.get("score-chart")) customElements.define("score-chart", ScoreChart);
