// The first view of a graph: fit it like React Flow's fitView, but never below the zoom at which
// node titles are still readable (12 px), and keep a band at the bottom free for the minimap and
// the controls. A graph too large for that is shown from its start (top left), at that zoom.

export const TITLE_FONT_PX = 14;
/** The smallest zoom at which a node title (TITLE_FONT_PX) renders at 12 px. */
export const READABLE_ZOOM = 12 / TITLE_FONT_PX;

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface Viewport {
  x: number;
  y: number;
  zoom: number;
}

export interface ViewportOptions {
  /** Screen pixels kept around the graph. */
  padding?: number;
  /** Screen pixels at the bottom kept free of nodes (the minimap's band). */
  reserveBottom?: number;
  maxZoom?: number;
  minZoom?: number;
}

export function readableViewport(bounds: Rect, canvas: { width: number; height: number }, options: ViewportOptions = {}): Viewport {
  const padding = options.padding ?? 24;
  const minZoom = options.minZoom ?? READABLE_ZOOM;
  const maxZoom = options.maxZoom ?? 1.25;
  const width = Math.max(1, canvas.width - 2 * padding);
  const height = Math.max(1, canvas.height - 2 * padding - (options.reserveBottom ?? 0));
  const fit = Math.min(width / Math.max(1, bounds.width), height / Math.max(1, bounds.height), maxZoom);
  const zoom = Math.max(fit, minZoom);
  // Centred on an axis where it fits, from its start on one where it does not.
  const along = (size: number, room: number, start: number) =>
    size * zoom <= room ? padding + (room - size * zoom) / 2 - start * zoom : padding - start * zoom;
  return { x: along(bounds.width, width, bounds.x), y: along(bounds.height, height, bounds.y), zoom };
}
