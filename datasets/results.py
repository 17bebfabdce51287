"""What a batch has done so far, read from its run: progress with an ETA, a page of row results, and the
whole result as CSV or JSON Lines. Nothing here writes."""

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from datasets.models import Batch
from engine import csv_cells
from engine.models import ENDED_RUN, Run, RunStatus
from engine.runs import children

PENDING = "pending"
EXPORT_CHUNK = 1000


@dataclass(frozen=True)
class Progress:
    status: str  # the batch run's status
    total: int
    succeeded: int
    failed: int
    cancelled: int
    running: int
    cost: Decimal  # every row run's cost so far, retries included
    eta_seconds: int | None

    @property
    def done(self) -> int:
        return self.succeeded + self.failed + self.cancelled

    @property
    def pending(self) -> int:
        return self.total - self.done - self.running

    @property
    def percent(self) -> int:
        return 100 * self.done // self.total if self.total else 100

    @property
    def ended(self) -> bool:
        return self.status in ENDED_RUN


def progress(batch: Batch, now: datetime | None = None) -> Progress:
    """The batch's counts from its for-each round's counters (no row run is read), its cost, and an ETA from
    the rate at which this round's rows have ended."""
    status, cost = Run.objects.values_list("status", "cost").get(pk=batch.run_id)
    last = children.latest_round(batch.run_id, children.BATCH_NODE)
    if last is None:  # the for-each node has not started yet
        return Progress(status, batch.row_count, 0, 0, 0, 0, cost, None)
    succeeded = last.succeeded + last.carried
    done = succeeded + last.failed + last.cancelled
    eta = None
    ended_here = done - last.carried
    if status not in ENDED_RUN and ended_here > 0 and done < last.total:
        elapsed = ((now or timezone.now()) - last.created_at).total_seconds()
        eta = round((last.total - done) * elapsed / ended_here)
    return Progress(status, last.total, succeeded, last.failed, last.cancelled, last.running, cost, eta)


@dataclass(frozen=True)
class RowResult:
    index: int
    input: Any
    output: Any
    status: str
    cost: Decimal
    run_id: int | None
    error: str

    @property
    def row(self) -> int:
        return self.index + 1


def pick(output: Any, path: str) -> Any:
    """The value at a dotted path in a row run's output (list items by number); None where there is none."""
    value = output
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def chosen_output(batch: Batch, output: Any) -> Any:
    """The batch's chosen output fields of `output`, or all of it when none were chosen."""
    if not batch.output_fields:
        return output
    return {path: pick(output, path) for path in batch.output_fields}


def _inputs(batch: Batch) -> list[Any]:
    """Each row's input as the batch's run was given it (the dataset may have changed or gone since)."""
    stored = Run.objects.values_list("input", flat=True).get(pk=batch.run_id)
    items = stored.get("items") if isinstance(stored, dict) else None
    return items if isinstance(items, list) else []


def _input_window(batch: Batch, start: int, stop: int) -> list[Any]:
    """Rows `start` to `stop` of the run's input, read by the database out of the JSON (the page polls this; the
    whole input of a 10,000-row batch is megabytes)."""
    if stop <= start:
        return []
    paths = [f"input__items__{index}" for index in range(start, stop)]
    return list(Run.objects.filter(pk=batch.run_id).values_list(*paths).get())


def _latest_runs(batch: Batch, start: int, stop: int) -> dict[int, Run]:
    """The latest row run of each item from `start` to `stop` (a retried row has one run per round)."""
    found = (
        Run.objects.filter(
            parent_run_id=batch.run_id, parent_node_id=children.BATCH_NODE, item_index__gte=start, item_index__lt=stop
        )
        .order_by("item_index", "parent_attempt")
        .only("id", "item_index", "status", "output", "cost", "error")
    )
    return {run.item_index: run for run in found if run.item_index is not None}


def results(batch: Batch, start: int = 0, count: int = 50, inputs: list[Any] | None = None) -> list[RowResult]:
    """Rows `start` to `start + count` with their run's status, chosen output and cost ("pending" before it starts).

    `inputs`: every row's input when the caller has read them already (an export)."""
    stop = min(start + count, batch.row_count)
    window = inputs[start:stop] if inputs is not None else _input_window(batch, start, stop)
    latest = _latest_runs(batch, start, stop)
    rows = []
    for index, value in enumerate(window, start=start):
        run = latest.get(index)
        if run is None:
            rows.append(RowResult(index, value, None, PENDING, Decimal(0), None, ""))
            continue
        output = chosen_output(batch, run.output) if run.status == RunStatus.SUCCEEDED else None
        rows.append(RowResult(index, value, output, run.status, run.cost, run.pk, run.error))
    return rows


def every_result(batch: Batch) -> Iterator[RowResult]:
    inputs = _inputs(batch)
    for start in range(0, len(inputs), EXPORT_CHUNK):
        yield from results(batch, start, EXPORT_CHUNK, inputs)


def csv_lines(batch: Batch) -> Iterator[str]:
    """The results as CSV: the row number, each input column, each chosen output field (or `output`), status,
    cost, run id and error. Values that are not text are written as JSON."""
    inputs = _inputs(batch)
    columns = list(dict.fromkeys(key for item in inputs if isinstance(item, dict) for key in item))
    fields = list(batch.output_fields)
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(values: list[Any]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(values)
        return buffer.getvalue()

    outputs = [f"output.{path}" for path in fields] or ["output"]
    yield line(["row", *[f"input.{column}" for column in columns], *outputs, "status", "cost", "run_id", "error"])
    for result in every_result(batch):
        item = result.input if isinstance(result.input, dict) else {}
        chosen = result.output if isinstance(result.output, dict) else {}
        values = [chosen.get(path) for path in fields] if fields else [result.output]
        cells = [item.get(column) for column in columns] + values + [result.status]
        yield line(
            [
                result.row,
                *map(csv_cells.text, cells),
                str(result.cost),
                result.run_id or "",
                csv_cells.text(result.error),
            ]
        )


def jsonl_lines(batch: Batch) -> Iterator[str]:
    """The results as JSON Lines: {row, input, output, status, cost, run_id, error} per row."""
    for result in every_result(batch):
        line = {
            "row": result.row,
            "input": result.input,
            "output": result.output,
            "status": result.status,
            "cost": str(result.cost),
            "run_id": result.run_id,
            "error": result.error,
        }
        yield json.dumps(line, ensure_ascii=False) + "\n"
