// The designer island: <workflow-designer data-workflow-id data-api-url data-can-edit
// data-versions-url data-runs-url data-list-url> plus <script type="application/json" id="designer-boot">
// with the draft, its revision, the node types and the pinned sample input. A custom element,
// so React mounts when the element enters the document and unmounts when it leaves.
import "@xyflow/react/dist/style.css";
import "../run-view/run-view.css";
import "./designer.css";
import { createRoot, type Root } from "react-dom/client";
import { parseGraph } from "../../lib/graph";
import { cardSize } from "../../lib/editorFlow";
import { withPositions } from "../../lib/layout";
import { outputHandles, type NodeKind } from "../../lib/nodeKinds";
import type { Problem } from "../../lib/problems";
import { Designer, type DesignerProps } from "./Designer";

const BOOT_SCRIPT_ID = "designer-boot";

interface Boot {
  workflow: { id: number; name: string; revision: number };
  graph: unknown;
  node_types: NodeKind[];
  sample_input: unknown;
  problems?: Problem[];
  providers_url?: string;
}

function readProps(element: HTMLElement): DesignerProps {
  const script = document.getElementById(BOOT_SCRIPT_ID);
  if (!script?.textContent) throw new Error(`The page has no #${BOOT_SCRIPT_ID} data`);
  const boot = JSON.parse(script.textContent) as Boot;
  const { apiUrl = "", canEdit = "", versionsUrl = "", runsUrl = "", listUrl = "" } = element.dataset;
  if (!apiUrl) throw new Error("workflow-designer needs data-api-url");
  const kinds = new Map(boot.node_types.map((kind) => [kind.kind, kind]));
  return {
    workflowId: boot.workflow.id,
    workflowName: boot.workflow.name,
    listUrl,
    revision: boot.workflow.revision,
    graph: withPositions(parseGraph(JSON.stringify(boot.graph)), {
      sizeOf: (node) => cardSize(outputHandles(kinds.get(node.type), node).length),
    }),
    kinds: boot.node_types,
    problems: boot.problems ?? [],
    providersUrl: boot.providers_url ?? "",
    sampleInput: boot.sample_input ?? {},
    apiUrl: apiUrl.replace(/\/+$/, ""),
    canEdit: canEdit === "true",
    versionsUrl,
    runsUrl,
  };
}

export class DesignerElement extends HTMLElement {
  private root: Root | null = null;

  connectedCallback(): void {
    if (this.root) return;
    this.root = createRoot(this);
    try {
      this.root.render(<Designer {...readProps(this)} />);
    } catch (error) {
      this.root.render(
        <p className="error" role="alert">
          The designer could not start: {error instanceof Error ? error.message : String(error)}
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

if (!customElements.get("workflow-designer")) customElements.define("workflow-designer", DesignerElement);
