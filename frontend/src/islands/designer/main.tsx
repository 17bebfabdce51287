// The designer island: <workflow-designer data-workflow-id data-api-url data-can-edit ...> plus
// <script type="application/json" id="designer-boot"> with the draft, its revision and the node types.
import { createRoot, type Root } from "react-dom/client";

export class DesignerElement extends HTMLElement {
  private root: Root | null = null;

  connectedCallback(): void {
    if (this.root) return;
    this.root = createRoot(this);
    this.root.render(<p className="muted">Loading the designer…</p>);
  }

  disconnectedCallback(): void {
    const root = this.root;
    this.root = null;
    root?.unmount();
  }
}

if (!customElements.get("workflow-designer")) customElements.define("workflow-designer", DesignerElement);
