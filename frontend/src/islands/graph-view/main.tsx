// A read-only graph, or the difference between two graphs: <graph-view data-graph="ID" [data-base="ID"]
// data-before-name data-after-name>, where each ID names a <script type="application/json"> on the
// page. A custom element, so React mounts when the element enters the document (htmx swaps included).
import "@xyflow/react/dist/style.css";
// The node look is the run view's; graph-view.css only adds the diff colours.
import "../run-view/run-view.css";
import "./graph-view.css";
import { createRoot, type Root } from "react-dom/client";
import { readGraphScript } from "../../lib/graph";
import { GraphView } from "./GraphView";

export class GraphViewElement extends HTMLElement {
  private root: Root | null = null;

  connectedCallback(): void {
    if (this.root) return;
    const { graph: graphId = "", base: baseId = "", beforeName = "before", afterName = "after" } = this.dataset;
    this.root = createRoot(this);
    try {
      const graph = readGraphScript(document, graphId);
      const base = baseId ? readGraphScript(document, baseId) : null;
      this.root.render(<GraphView graph={graph} base={base} beforeName={beforeName} afterName={afterName} />);
    } catch (error) {
      this.root.render(
        <p className="error" role="alert">
          The graph could not be shown: {error instanceof Error ? error.message : String(error)}
        </p>,
      );
    }
  }

  disconnectedCallback(): void {
    const root = this.root;
    this.root = null;
    root?.unmount();
  }
}

if (!customElements.get("graph-view")) customElements.define("graph-view", GraphViewElement);
