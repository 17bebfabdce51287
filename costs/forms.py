"""The costs pages' forms: report filters, a budget, a model price; a bad value names its field."""

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django import forms
from django.utils import timezone

from engine.models import Budget, BudgetScope, ModelPrice
from monitoring.filters import DateRangeForm

DEFAULT_DAYS = 30
# A report over more than this many days reads too many rollup rows for one page.
MAX_DAYS = 731


class ReportForm(DateRangeForm):
    """`workflows` and `models` are what the workspace has been billed for: the filters offer those."""

    bucket = forms.ChoiceField(
        required=False, choices=[("day", "day"), ("week", "week"), ("month", "month")], initial="day"
    )
    stack = forms.ChoiceField(
        required=False,
        choices=[("workflow", "workflow"), ("model", "model"), ("node_type", "node type")],
        initial="workflow",
    )

    def __init__(self, *args: Any, workflows: dict[int, str], models: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        named = sorted(workflows.items(), key=lambda w: w[1])
        self.fields["workflow"] = forms.TypedChoiceField(
            required=False, coerce=int, empty_value=None, choices=[("", "All workflows"), *named]
        )
        self.fields["model"] = forms.ChoiceField(
            required=False, choices=[("", "All models"), *((name, name) for name in models)]
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        until = data.get("until") or timezone.localdate()
        since = data.get("since") or until - timedelta(days=DEFAULT_DAYS - 1)
        if isinstance(since, date) and isinstance(until, date) and (until - since).days >= MAX_DAYS:
            self.add_error("since", f"Choose at most {MAX_DAYS} days")
        data.update(since=since, until=until, bucket=data.get("bucket") or "day", stack=data.get("stack") or "workflow")
        return data


class BudgetForm(forms.ModelForm):
    class Meta:
        model = Budget
        fields = ["name", "scope", "workflow_id", "limit", "alert_percent"]
        labels = {"workflow_id": "Workflow id", "limit": "Limit (USD)", "alert_percent": "Alert at % of the limit"}

    def __init__(self, *args: Any, workflows: dict[int, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.workflows = workflows
        self.fields["limit"].validators.append(_positive)
        self.fields["alert_percent"].validators.append(_percent)

    def clean_workflow_id(self) -> int | None:
        workflow_id = self.cleaned_data.get("workflow_id")
        if workflow_id is not None and workflow_id not in self.workflows:
            raise forms.ValidationError("There is no such workflow in this workspace")
        return workflow_id

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        scope, workflow_id = data.get("scope"), data.get("workflow_id")
        if scope == BudgetScope.WORKFLOW_MONTH and workflow_id is None:
            self.add_error("workflow_id", "A workflow budget needs a workflow")
        if scope == BudgetScope.WORKSPACE_MONTH and workflow_id is not None:
            self.add_error("workflow_id", "A workspace budget covers every workflow: leave this empty")
        return data


def _positive(value: Decimal) -> None:
    if value <= 0:
        raise forms.ValidationError("The limit must be more than zero")


def _percent(value: int) -> None:
    if not 1 <= value <= 100:
        raise forms.ValidationError("Give a percentage from 1 to 100")


class PriceForm(forms.ModelForm):
    class Meta:
        model = ModelPrice
        fields = ["provider_kind", "model", "input_per_million", "output_per_million"]
        labels = {
            "provider_kind": "Provider kind",
            "input_per_million": "Input, USD per million tokens",
            "output_per_million": "Output, USD per million tokens",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("input_per_million", "output_per_million"):
            self.fields[name].validators.append(_not_negative)


def _not_negative(value: Decimal) -> None:
    if value < 0:
        raise forms.ValidationError("A price cannot be negative")
