"""Forms of the knowledge pages: they validate; knowledge/documents.py does the work."""

from typing import Any

from django import forms

from engine import json_input
from knowledge.sync import SCHEDULES


class KnowledgeBaseForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    embedding = forms.ChoiceField(label="Embedding model", required=False)
    chunk_size = forms.IntegerField(min_value=50, max_value=2000, initial=300, label="Chunk size (tokens)")
    chunk_overlap = forms.IntegerField(min_value=0, max_value=1000, initial=40, label="Overlap (tokens)")

    def __init__(self, *args: Any, choices: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["embedding"].choices = choices  # type: ignore[attr-defined]


class DeleteBaseForm(forms.Form):
    confirm = forms.CharField(max_length=200, label="Type the knowledge base's name to confirm")

    def __init__(self, *args: Any, base_name: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.base_name = base_name

    def clean_confirm(self) -> str:
        typed: str = self.cleaned_data["confirm"]
        if typed.strip() != self.base_name:
            raise forms.ValidationError(f"type {self.base_name!r} to delete it")
        return typed


class MetadataField(forms.CharField):
    """A JSON object, e.g. {"category": "billing"}; empty means none."""

    def to_python(self, value: Any) -> dict[str, Any]:  # type: ignore[override]
        text = (value or "").strip()
        if not text:
            return {}
        try:
            return json_input.parse_object(text)
        except json_input.JsonRefused as refused:
            raise forms.ValidationError(f'write a JSON object, e.g. {{"category": "billing"}} ({refused})') from None


class UploadForm(forms.Form):
    metadata = MetadataField(required=False)


class TextForm(forms.Form):
    title = forms.CharField(max_length=300)
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 6}))
    metadata = MetadataField(required=False)


class UrlForm(forms.Form):
    url = forms.URLField(max_length=2000, assume_scheme="https", label="Page URL")
    title = forms.CharField(max_length=300, required=False)
    sync_hours = forms.ChoiceField(choices=SCHEDULES, required=False, label="Re-sync")
    metadata = MetadataField(required=False)


class QueryForm(forms.Form):
    q = forms.CharField(max_length=2000, label="Query")
    top_k = forms.IntegerField(min_value=1, max_value=50, initial=5, required=False, label="Top k")
    min_score = forms.FloatField(min_value=0, max_value=1, initial=0, required=False, label="Minimum score")
    filters = MetadataField(required=False, label="Filters")
