import { describe, expect, it } from "vitest";
import type { GraphV1 } from "./graph";
import { autoLayout, DEFAULT_SIZE, withPositions, type LayoutDirection } from "./layout";
import { nodeSummary } from "./nodeSummary";
import { READABLE_ZOOM, readableViewport } from "./viewport";

function chain(length: number): GraphV1 {
  const nodes = Array.from({ length }, (_, i) => ({ id: `n${i}`, type: i ? "transform" : "trigger", params: {} }));
  const edges = nodes.slice(1).map((node, i) => ({ id: `e${i}`, source: `n${i}`, source_handle: "out", target: node.id, target_handle: "in" }));
  return { schema_version: 1, nodes, edges };
}

/** A trigger, then a condition whose two branches fan out to three nodes each. */
function branches(): GraphV1 {
  const graph = chain(2);
  for (const side of ["true", "false"]) {
    for (let i = 0; i < 3; i++) {
      const id = `${side}${i}`;
      graph.nodes.push({ id, type: "transform", params: {} });
      graph.edges.push({ id: `e_${id}`, source: i ? `${side}${i - 1}` : "n1", source_handle: i ? "out" : side, target: id, target_handle: "in" });
    }
  }
  return graph;
}

function overlaps(positions: Record<string, { x: number; y: number }>): string[] {
  const boxes = Object.entries(positions);
  const found: string[] = [];
  for (const [i, [a, pa]] of boxes.entries()) {
    for (const [b, pb] of boxes.slice(i + 1)) {
      if (Math.abs(pa.x - pb.x) < DEFAULT_SIZE.width && Math.abs(pa.y - pb.y) < DEFAULT_SIZE.height) found.push(`${a}/${b}`);
    }
  }
  return found;
}

function extent(positions: Record<string, { x: number; y: number }>) {
  const xs = Object.values(positions).map((p) => p.x);
  const ys = Object.values(positions).map((p) => p.y);
  return { width: Math.max(...xs) - Math.min(...xs) + DEFAULT_SIZE.width, height: Math.max(...ys) - Math.min(...ys) + DEFAULT_SIZE.height };
}

describe("auto-layout", () => {
  for (const direction of ["LR", "TB"] as LayoutDirection[]) {
    it(`wraps a long chain into bands without overlaps (${direction})`, () => {
      const positions = autoLayout(chain(20), { direction });
      expect(overlaps(positions)).toEqual([]);
      const size = extent(positions);
      if (direction === "LR") {
        expect(size.width).toBeLessThanOrEqual(1250);
        expect(size.height).toBeGreaterThan(2 * DEFAULT_SIZE.height);
      } else {
        expect(size.height).toBeLessThanOrEqual(760);
        expect(size.width).toBeGreaterThan(2 * DEFAULT_SIZE.width);
      }
      // Within a band the chain runs along the main axis, in order.
      const main = (id: string) => (direction === "LR" ? positions[id].x : positions[id].y);
      expect(main("n0")).toBeLessThan(main("n1"));
      expect(main("n1")).toBeLessThan(main("n2"));
    });

    it(`fans branches out side by side (${direction})`, () => {
      const positions = autoLayout(branches(), { direction });
      expect(overlaps(positions)).toEqual([]);
      const cross = (id: string) => (direction === "LR" ? positions[id].y : positions[id].x);
      const main = (id: string) => (direction === "LR" ? positions[id].x : positions[id].y);
      expect(cross("true0")).not.toBe(cross("false0"));
      expect(main("true0")).toBe(main("false0"));
    });
  }

  it("leaves a short chain in one row", () => {
    const positions = autoLayout(chain(4));
    expect(new Set(Object.values(positions).map((p) => p.y)).size).toBe(1);
  });

  it("uses the node sizes it is given", () => {
    const positions = autoLayout(chain(3), { sizeOf: () => ({ width: 400, height: 50 }) });
    expect(positions.n1.x - positions.n0.x).toBeGreaterThanOrEqual(400);
  });
});

describe("the first view", () => {
  const canvas = { width: 1100, height: 780 };

  it("fits a small graph, centred, without zooming in past the maximum", () => {
    const view = readableViewport({ x: 0, y: 0, width: 500, height: 100 }, canvas, { maxZoom: 1.25 });
    expect(view.zoom).toBe(1.25);
    expect(view.x).toBeCloseTo(24 + (1052 - 625) / 2);
  });

  it("never zooms below the readable zoom: a large graph is shown from its start", () => {
    const view = readableViewport({ x: -100, y: 50, width: 6000, height: 4000 }, canvas);
    expect(view.zoom).toBe(READABLE_ZOOM);
    expect(14 * view.zoom).toBeGreaterThanOrEqual(12);
    expect(view.x).toBeCloseTo(24 + 100 * READABLE_ZOOM);
    expect(view.y).toBeCloseTo(24 - 50 * READABLE_ZOOM);
  });

  it("keeps the bottom band free for the minimap", () => {
    const bounds = { x: 0, y: 0, width: 800, height: 600 };
    const view = readableViewport(bounds, canvas, { reserveBottom: 150 });
    const bottom = view.y + bounds.height * view.zoom;
    expect(bottom).toBeLessThanOrEqual(canvas.height - 150 - 24 + 1e-6);
  });
});

describe("node summaries", () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ["generate", { prompt: "x" }, "builtin · builtin-extractive"],
    ["generate", { provider: "openai", model: "gpt-4o-mini" }, "openai · gpt-4o-mini"],
    ["classify", { labels: [{ name: "billing" }, { name: "bug" }] }, "builtin · builtin-extractive · 2 labels"],
    ["extract", { fields: { order: "string" } }, "builtin · builtin-extractive · 1 field"],
    ["retrieve", { knowledge_base: "Help centre", top_k: 5 }, "Help centre · top 5"],
    ["retrieve", { knowledge_base: 3 }, "knowledge base #3 · top 5"],
    ["confidence_check", { threshold: 0.7 }, "confidence ≥ 0.7"],
    ["confidence_check", { threshold: 0.5, rules: [{}, {}] }, "confidence ≥ 0.5 · 2 rules"],
    ["condition", { expression: "input.priority == 'urgent'" }, "if input.priority == 'urgent'"],
    ["switch", { value: "{{ input.kind }}", cases: ["a", "b"] }, "on {{ input.kind }} · 2 cases"],
    ["delay", { seconds: 120 }, "wait 2 min"],
    ["transform", { fields: { a: 1, b: 2, c: 3, d: 4 } }, "sets a, b, c +1"],
    ["http_request", { method: "POST", url: "https://api.example.com/tickets" }, "POST api.example.com/tickets"],
    ["trigger", { input_schema: { properties: { subject: {}, body: {} } } }, "input: subject, body"],
    ["reply", { answer: "{{ nodes.draft.text }}" }, "answers {{ nodes.draft.text }}"],
    ["escalate", { reason: "Needs a person" }, "Needs a person"],
    ["approval", { title: "Review", required_approvals: 2 }, "Review · 2 approvals"],
    ["unknown_kind", { a: 1 }, ""],
  ];
  for (const [kind, params, expected] of cases) {
    it(`${kind}: ${expected || "(none)"}`, () => expect(nodeSummary(kind, params)).toBe(expected));
  }

  it("cuts a long summary to one line", () => {
    const summary = nodeSummary("condition", { expression: "x".repeat(200) });
    expect(summary.length).toBeLessThanOrEqual(44);
    expect(summary.endsWith("…")).toBe(true);
  });
});

describe("a graph without positions", () => {
  it("gets laid-out positions for the nodes that have none, and keeps the others", () => {
    const graph = chain(3);
    graph.nodes[0].position = { x: -500, y: -500 };
    const placed = withPositions(graph);
    expect(placed.nodes[0].position).toEqual({ x: -500, y: -500 });
    expect(placed.nodes[1].position).toBeDefined();
    expect(placed.nodes[1].position).not.toEqual(placed.nodes[2].position);
  });

  it("is the same graph when every node has a position", () => {
    const graph = withPositions(chain(2));
    expect(withPositions(graph)).toBe(graph);
  });
});
