"""Forms of the evaluation pages: they check what was typed; evals/sets.py and eval_runs.py do the rest."""

import json
from typing import Any

from django import forms

from engine.json_input import JsonRefused, parse
from evals.models import Scorer, ScorerKind


class EvalSetForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class CorrectionsForm(forms.Form):
    """The workflow's reviewer-corrections setting (evals/corrections.py configure checks the rest)."""

    auto_add = forms.BooleanField(
        required=False, label="Add reviewer corrections as rows at once (otherwise they wait as proposals)"
    )
    eval_set = forms.TypedChoiceField(
        coerce=int, empty_value=None, required=False, label="Into the eval set",
        help_text="blank with one eval set: that one",
    )  # fmt: skip

    def __init__(self, *args: Any, sets: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["eval_set"].choices = [("", "—"), *sets]  # type: ignore[attr-defined]


class RowsForm(forms.Form):
    rows = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text='One JSON object a line: {"input": {…}, "expected": {…}}',
    )

    def clean_rows(self) -> list[dict[str, Any]]:
        found = []
        for number, line in enumerate(self.cleaned_data["rows"].splitlines(), start=1):
            if not line.strip():
                continue
            try:
                value = parse(line.encode())
            except JsonRefused as refused:
                raise forms.ValidationError(f"line {number}: {refused}") from None
            if not isinstance(value, dict) or not isinstance(value.get("input"), dict):
                raise forms.ValidationError(f'line {number}: give an object with an "input" object')
            found.append(value)
        if not found:
            raise forms.ValidationError("give at least one row")
        return found


class ScorerForm(forms.Form):
    name = forms.CharField(max_length=100)
    kind = forms.ChoiceField(choices=ScorerKind.choices)
    field = forms.CharField(required=False, max_length=200, help_text="in the output, or nodes.<id>.<path>")
    expected_field = forms.CharField(required=False, max_length=200, help_text="blank: the same path")
    config = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text='JSON, e.g. {"pattern": "^Hello"} or {"rubric": "…", "scale": "1-5", "provider": "builtin"}; '
        "similarity with no provider and model uses the workspace's embedding model",
    )
    threshold = forms.FloatField(initial=1.0)

    def clean_config(self) -> dict[str, Any]:
        text = self.cleaned_data["config"].strip()
        if not text:
            return {}
        try:
            value = parse(text)
        except JsonRefused as refused:
            raise forms.ValidationError(str(refused)) from None
        if not isinstance(value, dict):
            raise forms.ValidationError("give a JSON object")
        return value


def scorer_initial(scorer: Scorer) -> dict[str, Any]:
    """A saved scorer as its edit form shows it."""
    fields = ("name", "kind", "field", "expected_field", "threshold")
    config = json.dumps(scorer.config, ensure_ascii=False) if scorer.config else ""
    return {**{name: getattr(scorer, name) for name in fields}, "config": config}


class ImportForm(forms.Form):
    """Rows from a dataset of the workspace: the expected columns become the expected fields, the rest the input."""

    dataset = forms.TypedChoiceField(coerce=int, label="Dataset")
    expected_columns = forms.CharField(
        required=False,
        max_length=2000,
        label="Expected columns",
        help_text="comma-separated, e.g. category, reply: they become the expected fields; the other columns the input",
    )

    def __init__(self, *args: Any, datasets: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["dataset"].choices = datasets  # type: ignore[attr-defined]

    def clean_expected_columns(self) -> list[str]:
        return [name.strip() for name in self.cleaned_data["expected_columns"].split(",") if name.strip()]


class EvalRunForm(forms.Form):
    version = forms.TypedChoiceField(coerce=int, empty_value=None, required=False, label="Run")
    concurrency = forms.IntegerField(min_value=1, max_value=100, initial=10)

    def __init__(self, *args: Any, versions: list[int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [("", "the current draft")] + [(str(number), f"version {number}") for number in versions]
        self.fields["version"].choices = choices  # type: ignore[attr-defined]


class AddToSetForm(forms.Form):
    eval_set = forms.TypedChoiceField(coerce=int, label="Eval set")
    expected = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="the expected output as JSON; blank: this run's output",
    )

    def __init__(self, *args: Any, sets: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["eval_set"].choices = sets  # type: ignore[attr-defined]

    def clean_expected(self) -> Any:
        text = self.cleaned_data["expected"].strip()
        if not text:
            return None
        try:
            return parse(text)
        except JsonRefused as refused:
            raise forms.ValidationError(str(refused)) from None
