import { useLayoutEffect, useRef } from "react";
import { formatClock } from "../../lib/format";
import { describeEvent, type TimelineRow } from "../../lib/runEvents";

interface TimelineProps {
  rows: TimelineRow[];
  historyUnavailable: boolean;
  selectedId: string | null;
  onSelectNode: (id: string) => void;
}

export function Timeline({ rows, historyUnavailable, selectedId, onSelectNode }: TimelineProps) {
  const scroller = useRef<HTMLDivElement>(null);
  const pinned = useRef(true);

  // Follow new rows while the reader is at the bottom; leave them alone once they scroll up.
  useLayoutEffect(() => {
    const element = scroller.current;
    if (element && pinned.current) element.scrollTop = element.scrollHeight;
  }, [rows.length]);

  return (
    <section className="rv-timeline card" aria-label="Event timeline">
      <h2>
        Events <span className="muted small">{rows.length ? `${rows.length}` : ""}</span>
      </h2>
      {historyUnavailable ? <p className="muted small">Earlier events could not be loaded.</p> : null}
      <div
        className="rv-timeline-scroll"
        ref={scroller}
        onScroll={(event) => {
          const element = event.currentTarget;
          pinned.current = element.scrollHeight - element.scrollTop - element.clientHeight < 24;
        }}
      >
        {rows.length ? (
          <ol className="rv-events">
            {rows.map((row) => (
              <li key={row.seq} className="rv-event" data-seq={row.seq} data-event={row.event} data-node-id={row.nodeId || undefined} aria-current={row.nodeId && row.nodeId === selectedId ? "true" : undefined}>
                <span className="rv-event-seq">#{row.seq}</span>
                <time className="rv-event-time" dateTime={row.at}>
                  {formatClock(row.at)}
                </time>
                <span className={`rv-event-type rv-event-${row.event.replace(/\./g, "-")}`}>{row.event}</span>
                <span className="rv-event-node">
                  {row.nodeId ? (
                    <button type="button" className="rv-link" onClick={() => onSelectNode(row.nodeId)}>
                      {row.nodeId}
                    </button>
                  ) : null}
                </span>
                <span className="rv-event-detail">{describeEvent(row)}</span>
              </li>
            ))}
          </ol>
        ) : (
          <p className="muted small">No events yet.</p>
        )}
      </div>
    </section>
  );
}
