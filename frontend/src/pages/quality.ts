// The Quality tab only: Chart.js draws the tab's tables, one chart per figure.
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from "chart.js";
import { outcomeBars, type QualityData, versionLines } from "./qualityChart";

Chart.register(
  BarController,
  BarElement,
  CategoryScale,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Legend,
  Tooltip,
);

// A custom element, so that a chart swapped in by htmx (a new range) draws itself on arrival.
class QualityChart extends HTMLElement {
  private chart: Chart | null = null;

  connectedCallback(): void {
    const source = document.getElementById(this.dataset.table ?? "");
    const canvas = this.querySelector("canvas");
    if (!source || !canvas) return;
    const tables = JSON.parse(source.textContent ?? "{}") as QualityData;
    const column = this.dataset.column ?? "";
    const title = { display: true, text: column || "Review outcomes" };
    const options = { animation: false as const, maintainAspectRatio: false, plugins: { title, legend: { position: "bottom" as const } } };
    this.chart =
      this.dataset.kind === "outcomes"
        ? new Chart(canvas, {
            type: "bar",
            data: outcomeBars(tables.by_version),
            options: { ...options, scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } },
          })
        : new Chart(canvas, {
            type: "line",
            data: versionLines(tables.over_time, column),
            options: { ...options, scales: { y: { beginAtZero: true } } },
          });
    this.dataset.drawn = String(this.chart.data.datasets.length);
  }

  disconnectedCallback(): void {
    this.chart?.destroy();
    this.chart = null;
  }
}

if (!customElements.get("quality-chart")) customElements.define("quality-chart", QualityChart);
