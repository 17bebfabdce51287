"""The runs list's filters and cursor, read from the query string; a bad value names its field."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from django import forms
from django.db.models import Model, QuerySet, TextField
from django.db.models.functions import Cast

from engine.models import Run, RunStatus, TriggerKind

PAGE = 50


class DateRangeForm(forms.Form):
    """A `since` to `until` pair of dates, as list filters use them; the end may not precede the start."""

    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if isinstance(since, date) and isinstance(until, date) and since > until:
            self.add_error("until", "The end date is before the start date")
        return data


class RunFilterForm(DateRangeForm):
    workflow = forms.IntegerField(required=False, min_value=1)
    version = forms.IntegerField(required=False, min_value=1)
    status = forms.ChoiceField(required=False, choices=[("", "any status"), *RunStatus.choices])
    trigger = forms.ChoiceField(required=False, choices=[("", "any trigger"), *TriggerKind.choices])
    q = forms.CharField(required=False, max_length=200, strip=True, label="Input contains")
    parent = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    include_children = forms.BooleanField(required=False, label="Include child runs")
    before = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)


@dataclass
class RunPage:
    runs: list[Run]
    next_before: int | None


M = TypeVar("M", bound=Model)


def narrowed(queryset: QuerySet[M], data: Mapping[str, Any], lookups: Mapping[str, str]) -> QuerySet[M]:
    """Filter by each value given in `data`; `lookups` maps a filter's name to its field lookup."""
    return queryset.filter(**{lookup: data[name] for name, lookup in lookups.items() if data.get(name)})


RUN_LOOKUPS = {
    "workflow": "workflow_id",
    "version": "version_number",
    "status": "status",
    "trigger": "trigger_kind",
    "since": "created_at__date__gte",
    "until": "created_at__date__lte",
    "before": "pk__lt",
    "parent": "parent_run_id",
}


def filtered(runs: QuerySet[Run], data: Mapping[str, Any], size: int = PAGE) -> RunPage:
    """Apply the filters and return one page, newest first; ids grow with time, so an id is the cursor."""
    runs = narrowed(runs, data, RUN_LOOKUPS)
    if not data.get("include_children") and not data.get("parent"):
        # The runs that sub-workflow and for_each nodes start are listed only when asked for.
        runs = runs.filter(parent_run__isnull=True)
    if data.get("q"):
        runs = runs.annotate(input_text=Cast("input", TextField())).filter(input_text__icontains=data["q"])
    page = list(runs.order_by("-pk")[: size + 1])
    return RunPage(runs=page[:size], next_before=page[size - 1].pk if len(page) > size else None)
