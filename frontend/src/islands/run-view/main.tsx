// The read-only run view island: <run-view data-run-id data-api-url data-ws-path data-can-edit>
// plus <script type="application/json" id="run-view-graph"> on the page. A custom element, so
// React mounts when the element enters the document and unmounts when it leaves (htmx swaps).
import "@xyflow/react/dist/style.css";
import "./run-view.css";
import { createRoot, type Root } from "react-dom/client";
import { readGraphScript, type GraphV1 } from "../../lib/graph";
import { RunView } from "./RunView";

const GRAPH_SCRIPT_ID = "run-view-graph";

export class RunViewElement extends HTMLElement {
  private root: Root | null = null;

  connectedCallback(): void {
    if (this.root) return;
    const { runId = "", apiUrl = "", wsPath = "", canEdit = "" } = this.dataset;
    this.root = createRoot(this);
    let graph: GraphV1;
    try {
      if (!apiUrl || !wsPath) throw new Error("run-view needs data-api-url and data-ws-path");
      graph = readGraphScript(document, GRAPH_SCRIPT_ID);
    } catch (error) {
      this.root.render(
        <p className="error" role="alert">
          The run view could not start: {error instanceof Error ? error.message : String(error)}
        </p>,
      );
      return;
    }
    this.root.render(<RunView runId={runId} apiUrl={apiUrl.replace(/\/+$/, "")} wsPath={wsPath} canEdit={canEdit === "true"} graph={graph} />);
  }

  disconnectedCallback(): void {
    const root = this.root;
    this.root = null;
    root?.unmount();
  }
}

if (!customElements.get("run-view")) customElements.define("run-view", RunViewElement);
