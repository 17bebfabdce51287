// The costs page only: Chart.js (tree-shaken to the bar chart) draws the spend-over-time table.
import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, Tooltip } from "chart.js";
import { type CostTable, datasets } from "./costChart";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip);

// A custom element, so that a chart swapped in by htmx (new filters) draws itself on arrival.
class CostChart extends HTMLElement {
  private chart: Chart | null = null;

  connectedCallback(): void {
    const source = document.getElementById(this.dataset.table ?? "");
    const canvas = this.querySelector("canvas");
    if (!source || !canvas) return;
    const table = JSON.parse(source.textContent ?? "{}") as CostTable;
    this.chart = new Chart(canvas, {
      type: "bar",
      data: datasets(table),
      options: {
        animation: false,
        maintainAspectRatio: false,
        scales: { x: { stacked: true }, y: { stacked: true, title: { display: true, text: "USD" } } },
        plugins: { legend: { position: "bottom" } },
      },
    });
    this.dataset.drawn = String(this.chart.data.datasets.length);
  }

  disconnectedCallback(): void {
    this.chart?.destroy();
    this.chart = null;
  }
}

if (!customElements.get("cost-chart")) customElements.define("cost-chart", CostChart);
