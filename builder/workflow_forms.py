"""Forms of the workflow list, versions and quality pages; they validate and do not save."""

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone

from builder import catalogue, transfer
from builder.models import Workflow, WorkflowVersion
from builder.quality import BUCKETS
from costs.forms import DEFAULT_DAYS, MAX_DAYS
from monitoring.filters import DateRangeForm


class CreateForm(forms.Form):
    name = forms.CharField(max_length=200)
    template = forms.ChoiceField(choices=catalogue.choices, initial="blank")


class RenameForm(forms.Form):
    name = forms.CharField(max_length=200)


class ImportForm(forms.Form):
    file = forms.FileField(help_text="a .json file exported from Switchyard")

    def clean_file(self) -> UploadedFile:
        upload: UploadedFile = self.cleaned_data["file"]
        if upload.size is not None and upload.size > transfer.MAX_FILE_BYTES:
            raise forms.ValidationError(f"the file is over {transfer.MAX_FILE_BYTES} bytes")
        return upload


class PublishForm(forms.Form):
    note = forms.CharField(max_length=500, required=False)
    # An owner publishing past a refusing publish gate says why (builder/gates.py).
    override_note = forms.CharField(max_length=2000, required=False)
    children = forms.TypedMultipleChoiceField(coerce=int, required=False, choices=())

    def __init__(self, *args: Any, children: Iterable[Workflow] = (), **kwargs: Any) -> None:
        """`children`: the called workflows with unpublished changes that may be published too."""
        super().__init__(*args, **kwargs)
        self.fields["children"].choices = [(child.pk, child.name) for child in children]  # type: ignore[attr-defined]


DRAFT = "draft"


class CompareForm(forms.Form):
    """Two sides of a diff: a version number or "draft" each."""

    before = forms.CharField(max_length=12)
    after = forms.CharField(max_length=12, initial=DRAFT)

    def __init__(self, *args: object, numbers: list[int], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.numbers = numbers

    def _side(self, field: str) -> str:
        value = self.cleaned_data[field].strip().lower().removeprefix("v")
        if value == DRAFT or (value.isdigit() and int(value) in self.numbers):
            return value
        raise forms.ValidationError(f"{field}: pick the draft or one of the versions")

    def clean_before(self) -> str:
        return self._side("before")

    def clean_after(self) -> str:
        return self._side("after")


def side_label(side: str) -> str:
    return "the draft" if side == DRAFT else f"v{side}"


def graph_of(versions: list[WorkflowVersion], draft: dict[str, object], side: str) -> dict[str, object]:
    if side == DRAFT:
        return draft
    return next(v.graph for v in versions if v.number == int(side))


class QualityForm(DateRangeForm):
    """The Quality tab's range and bucket; the range defaults to the last 30 days."""

    bucket = forms.ChoiceField(required=False, choices=[(bucket, bucket) for bucket in BUCKETS], initial="day")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        until = data.get("until") or timezone.localdate()
        since = data.get("since") or until - timedelta(days=DEFAULT_DAYS - 1)
        if isinstance(since, date) and isinstance(until, date) and (until - since).days >= MAX_DAYS:
            self.add_error("since", f"Choose at most {MAX_DAYS} days")
        data.update(since=since, until=until, bucket=data.get("bucket") or "day")
        return data


class GateForm(forms.Form):
    """A workflow's publish gate; `eval_sets` are the workflow's eval sets (id, name)."""

    eval_set = forms.TypedChoiceField(coerce=int, choices=())
    scorer = forms.CharField(max_length=100, required=False)
    min_pass_rate = forms.FloatField(required=False, min_value=0, max_value=1, label="Minimum pass rate (0 to 1)")
    max_drop_points = forms.FloatField(
        required=False, min_value=0, max_value=100, label="Largest drop below the published version (points)"
    )
    enabled = forms.BooleanField(required=False, initial=True)

    def __init__(self, *args: Any, eval_sets: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["eval_set"].choices = eval_sets  # type: ignore[attr-defined]
