"""What an eval run has done so far: its progress, a page of row results and the whole of them as CSV.
Nothing here writes."""

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine import csv_cells
from engine.models import ENDED_RUN, Run
from engine.runs import children
from evals.models import EvalResult, EvalRun

EXPORT_CHUNK = 1000


@dataclass(frozen=True)
class Progress:
    status: str  # the eval run's engine run
    total: int
    done: int  # rows whose run has ended
    running: int
    scored: bool
    cost: Decimal

    @property
    def percent(self) -> int:
        return 100 * self.done // self.total if self.total else 100

    @property
    def ended(self) -> bool:
        return self.status in ENDED_RUN


def progress(eval_run: EvalRun) -> Progress:
    """Rows run so far from the for-each round's counters (no row run is read), and the cost so far."""
    status, cost = Run.objects.values_list("status", "cost").get(pk=eval_run.run_id)
    found = children.progress(eval_run.run_id)
    done = found.succeeded + found.failed + found.cancelled if found else 0
    running = found.running if found else 0
    return Progress(status, eval_run.row_count, done, running, eval_run.scored_at is not None, cost)


def page(eval_run: EvalRun, after: int = 0, limit: int = 50) -> list[EvalResult]:
    """Row results from row number `after` + 1 on (1-based numbers, as pages show them)."""
    return list(EvalResult.objects.filter(eval_run=eval_run, index__gte=after).order_by("index")[:limit])


def csv_lines(eval_run: EvalRun) -> Iterator[str]:
    """One line per row: number, input, expected, output, outcome, each scorer's score and pass, all passed, cost,
    latency, run id and error. Values that are not text are written as JSON."""
    names = [scorer["name"] for scorer in eval_run.scorers]
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(values: list[Any]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(values)
        return buffer.getvalue()

    scored = [column for name in names for column in (f"{name}.score", f"{name}.passed")]
    head = ["row", "input", "expected", "output", "outcome", *scored, "passed", "cost", "latency_ms", "run_id", "error"]
    yield line(head)
    rows = EvalResult.objects.filter(eval_run=eval_run).order_by("index")
    for result in rows.iterator(chunk_size=EXPORT_CHUNK):
        scores = [result.scores.get(name) or {} for name in names]
        cells = [value for score in scores for value in (score.get("score"), score.get("passed"))]
        yield line(
            [
                result.index + 1,
                *map(csv_cells.text, (result.input, result.expected, result.output, result.outcome)),
                *map(csv_cells.text, (*cells, result.passed)),
                str(result.cost),
                result.latency_ms if result.latency_ms is not None else "",
                result.run_id or "",
                csv_cells.text(result.error),
            ]
        )
