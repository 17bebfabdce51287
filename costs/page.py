"""Every table of the costs page, built by one function that the page, the CSV export and
bench/cost_report.py call, so what is timed and exported is what is shown."""

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from costs.per_run import per_run, top_runs
from costs.reports import GROUPINGS, Filters, Table, grouped, summary
from costs.timeline import spend_over_time


@dataclass(frozen=True)
class ReportQuery:
    filters: Filters
    bucket: str = "day"
    stack: str = "workflow"

    @classmethod
    def from_form(cls, workspace_id: int, data: dict[str, Any]) -> "ReportQuery":
        filters = Filters(
            workspace_id=workspace_id,
            since=data["since"],
            until=data["until"],
            workflow_id=data.get("workflow"),
            model=data.get("model") or "",
        )
        return cls(filters, data["bucket"], data["stack"])


def _over_time(query: ReportQuery) -> Table:
    return spend_over_time(query.filters, query.bucket, query.stack)


def _on_filters(build: Callable[[Filters], Table], query: ReportQuery) -> Table:
    return build(query.filters)


BUILDERS: dict[str, Callable[[ReportQuery], Table]] = {
    "summary": partial(_on_filters, summary),
    "over-time": _over_time,
    **{key: partial(_on_filters, partial(grouped, key=key)) for key in GROUPINGS},
    "per-run": partial(_on_filters, per_run),
    "top-runs": partial(_on_filters, top_runs),
}


def report(query: ReportQuery) -> dict[str, Table]:
    return {key: build(query) for key, build in BUILDERS.items()}
