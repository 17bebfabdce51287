"""The schedule form of the Schedules page; it validates with the same checks as the API and does not save."""

from collections.abc import Sequence
from typing import Any

from django import forms

from builder import schedules
from engine import json_input


class ScheduleForm(forms.Form):
    cron = forms.CharField(max_length=100, help_text="minute hour day-of-month month day-of-week, or @daily, @hourly…")
    timezone = forms.CharField(max_length=64, initial="UTC")
    input = forms.CharField(required=False, max_length=100_000, initial="{}", help_text="a JSON object")
    dataset = forms.TypedChoiceField(coerce=int, required=False, empty_value=None, label="Batch over a dataset")
    batch_concurrency = forms.IntegerField(min_value=1, max_value=500, initial=10, required=False)

    def __init__(self, *args: Any, datasets: Sequence[tuple[int, str]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["dataset"].choices = [("", "None: one run with the input"), *datasets]  # type: ignore[attr-defined]

    def clean_cron(self) -> str:
        return _checked(schedules.check_cron, self.cleaned_data["cron"])

    def clean_timezone(self) -> str:
        return _checked(schedules.check_timezone, self.cleaned_data["timezone"])

    def clean_input(self) -> dict[str, Any]:
        text = self.cleaned_data["input"].strip() or "{}"
        try:
            value = json_input.parse(text)
        except json_input.JsonRefused as refused:
            raise forms.ValidationError(f"input: {refused}") from None
        return _checked(schedules.check_input, value)

    def clean(self) -> dict[str, Any] | None:
        data = super().clean()
        if not self.errors:
            try:
                schedules.clean(self.spec())
            except schedules.ScheduleInvalid as error:
                self.add_error(error.field, str(error))
        return data

    def spec(self) -> schedules.Spec:
        data = self.cleaned_data
        concurrency = data.get("batch_concurrency") or 10
        return schedules.Spec(data["cron"], data["timezone"], data["input"], True, data.get("dataset"), concurrency)


def _checked(check: Any, value: Any) -> Any:
    try:
        return check(value)
    except schedules.ScheduleInvalid as error:
        raise forms.ValidationError(str(error)) from None
