"""Every table of the costs page, built by one function that the page, the CSV export and
bench/cost_report.py call, so what is timed and exported is what is shown."""

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from costs.per_run import per_run, top_runs
from costs.reports import GROUPINGS, Filters, Table, combinations, grouped, summary
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


class Source:
    """A query and the rollup rows that several tables share, read once."""

    def __init__(self, query: ReportQuery) -> None:
        self.query = query
        self.filters = query.filters

    @cached_property
    def combinations(self) -> list[dict[str, Any]]:
        return combinations(self.filters)


def _grouping(key: str) -> Callable[[Source], Table]:
    return lambda source: grouped(source.combinations, key)


BUILDERS: dict[str, Callable[[Source], Table]] = {
    "summary": lambda source: summary(source.filters, source.combinations),
    "over-time": lambda source: spend_over_time(source.filters, source.query.bucket, source.query.stack),
    **{key: _grouping(key) for key in GROUPINGS},
    "per-run": lambda source: per_run(source.filters),
    "top-runs": lambda source: top_runs(source.filters),
}


def report(query: ReportQuery) -> dict[str, Table]:
    source = Source(query)
    return {key: build(source) for key, build in BUILDERS.items()}


def table(query: ReportQuery, key: str) -> Table:
    return BUILDERS[key](Source(query))
