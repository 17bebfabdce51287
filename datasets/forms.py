"""Forms of the dataset and batch pages: they validate; datasets/store.py and datasets/batches.py do the work."""

from typing import Any

from django import forms

from datasets.models import Source

FORMAT_CHOICES = [("", "From the file's name"), (Source.CSV, "CSV (header line first)"), (Source.JSONL, "JSON Lines")]
PASTE_CHOICES = [(Source.CSV, "CSV (header line first)"), (Source.JSONL, "JSON Lines (one object per line)")]


class DatasetForm(forms.Form):
    """A new dataset from an uploaded file or pasted text: one of the two."""

    name = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    file = forms.FileField(required=False, label="File (.csv or .jsonl)")
    format = forms.ChoiceField(choices=FORMAT_CHOICES, required=False, label="Format of the file")
    text = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 6}), label="…or paste rows")
    paste_format = forms.ChoiceField(choices=PASTE_CHOICES, required=False, label="Format of the pasted rows")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        has_file, has_text = bool(data.get("file")), bool((data.get("text") or "").strip())
        if has_file == has_text:
            raise forms.ValidationError("upload a file or paste rows (one of the two)")
        return data


class FromRunsForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    workflow = forms.TypedChoiceField(coerce=int, label="Workflow")
    runs = forms.TypedMultipleChoiceField(coerce=int, label="Runs whose inputs become rows")

    def __init__(self, *args: Any, workflows: list[tuple[int, str]], runs: list[int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["workflow"].choices = workflows  # type: ignore[attr-defined]
        self.fields["runs"].choices = [(pk, str(pk)) for pk in runs]  # type: ignore[attr-defined]


class DeleteDatasetForm(forms.Form):
    confirm = forms.CharField(max_length=200, label="Type the dataset's name to confirm")

    def __init__(self, *args: Any, dataset_name: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.dataset_name = dataset_name

    def clean_confirm(self) -> str:
        typed: str = self.cleaned_data["confirm"]
        if typed.strip() != self.dataset_name:
            raise forms.ValidationError(f"type {self.dataset_name!r} to delete it")
        return typed


class BatchForm(forms.Form):
    version = forms.TypedChoiceField(coerce=int, label="Workflow version")
    concurrency = forms.IntegerField(min_value=1, max_value=500, initial=10, label="Rows at once")
    output_fields = forms.CharField(
        required=False,
        max_length=2000,
        label="Output fields",
        help_text="Dotted paths into each row's output, e.g. label, reply.text; empty keeps the whole output",
    )

    def __init__(self, *args: Any, versions: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["version"].choices = versions  # type: ignore[attr-defined]
