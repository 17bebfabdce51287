"""Forms of the settings pages (network, model providers and the embedding model, secrets); they validate, views save.

The secrets forms check the shape only; engine/workspace_secrets.py checks the rest."""

from typing import Any

from django import forms

from engine.models import ProviderKind
from engine.outbound import parse_allowlist


class AllowlistForm(forms.Form):
    entries = forms.CharField(
        required=False,
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 5, "spellcheck": "false"}),
        help_text="One per line: a host name, an IP or a CIDR, each optionally with :port",
    )

    def clean_entries(self) -> list[str]:
        lines = [line.strip() for line in self.cleaned_data["entries"].splitlines() if line.strip()]
        try:
            parse_allowlist(lines)
        except ValueError as error:
            raise forms.ValidationError(str(error)) from None
        return lines


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


class ProviderConfigForm(forms.Form):
    """A provider configuration; the API key field is write-only: blank keeps the stored key."""

    name = forms.SlugField(max_length=100, help_text="How nodes name it, e.g. openai")
    kind = forms.ChoiceField(choices=ProviderKind.choices, initial=ProviderKind.OPENAI_COMPATIBLE)
    base_url = forms.URLField(
        max_length=500, assume_scheme="https", label="Base URL", help_text="e.g. https://api.openai.com/v1"
    )
    chat_models = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), help_text="One model name per line"
    )
    embedding_models = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), help_text="One model name per line"
    )
    headers = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false"}),
        help_text=(
            "One per line as Name: value. Allowed: OpenAI-Organization, OpenAI-Project, OpenAI-Beta, HTTP-Referer, "
            "X-Title; and api-key, x-api-key, Helicone-Auth, x-portkey-api-key with a secret as value: "
            "{{ secrets.NAME }}"
        ),
    )
    timeout_s = forms.IntegerField(min_value=1, max_value=600, initial=60, label="Timeout (seconds)")
    api_key = forms.CharField(
        required=False,
        max_length=4000,
        label="API key",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=(
            "Stored encrypted and never shown again; leave blank to keep the current key. Changing the base URL, "
            "kind or headers removes a stored key unless you enter it again here"
        ),
    )
    remove_api_key = forms.BooleanField(required=False, label="Remove the stored key")

    def clean_chat_models(self) -> list[str]:
        return _lines(self.cleaned_data["chat_models"])

    def clean_embedding_models(self) -> list[str]:
        return _lines(self.cleaned_data["embedding_models"])

    def clean_headers(self) -> dict[str, str]:
        headers = {}
        for line in _lines(self.cleaned_data["headers"]):
            name, colon, value = line.partition(":")
            if not colon or not name.strip():
                raise forms.ValidationError(f"{line!r} is not Name: value")
            headers[name.strip()] = value.strip()
        return headers

    def values(self) -> dict[str, object]:
        fields = ("name", "kind", "base_url", "chat_models", "embedding_models", "headers", "timeout_s")
        return {field: self.cleaned_data[field] for field in fields}

    def new_api_key(self) -> str | None:
        """None keeps the stored key, "" removes it."""
        if self.cleaned_data["remove_api_key"]:
            return ""
        return self.cleaned_data["api_key"] or None


class SecretForm(forms.Form):
    name = forms.CharField(
        max_length=64, help_text="Capital letters, digits and _, e.g. CRM_API_KEY. Nodes use {{ secrets.NAME }}."
    )
    value = forms.CharField(
        max_length=8000,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        help_text="Stored encrypted and never shown again.",
    )


class RotateForm(forms.Form):
    value = forms.CharField(
        max_length=8000,
        strip=False,
        label="New value",
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
    )


class McpServerForm(forms.Form):
    """An MCP server; the headers field is write-only: blank keeps the stored headers."""

    name = forms.SlugField(max_length=100, help_text="How agent tools name it, e.g. orders")
    url = forms.URLField(
        max_length=500,
        assume_scheme="https",
        label="URL",
        help_text="Its streamable HTTP endpoint, e.g. https://mcp.example.com/mcp",
    )
    timeout_s = forms.IntegerField(min_value=1, max_value=300, initial=30, label="Time limit (seconds)")
    headers = forms.CharField(
        required=False,
        max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false", "autocomplete": "off"}),
        help_text=(
            "One per line as Name: value, e.g. Authorization: Bearer …. Stored encrypted and never shown again; "
            "leave blank to keep the stored headers. Changing the URL removes them unless you enter them again here"
        ),
    )
    remove_headers = forms.BooleanField(required=False, label="Remove the stored headers")

    def clean_headers(self) -> dict[str, str]:
        headers = {}
        for line in _lines(self.cleaned_data["headers"]):
            name, colon, value = line.partition(":")
            if not colon or not name.strip():
                # Only the name part: the line may hold a credential.
                raise forms.ValidationError(f"a line starting {name.strip()[:40]!r} is not Name: value")
            headers[name.strip()] = value.strip()
        return headers

    def values(self) -> dict[str, object]:
        return {field: self.cleaned_data[field] for field in ("name", "url", "timeout_s")}

    def new_headers(self) -> dict[str, str] | None:
        """None keeps the stored headers, {} removes them."""
        if self.cleaned_data["remove_headers"]:
            return {}
        return self.cleaned_data["headers"] or None


class EmbeddingModelForm(forms.Form):
    """The workspace's embedding model, one of the pairs its providers offer ("provider|model")."""

    embedding_model = forms.ChoiceField(
        label="Embedding model",
        help_text="Semantic similarity scorers that name no model use it; the new knowledge base form preselects it",
    )

    def __init__(self, *args: Any, choices: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["embedding_model"].choices = choices  # type: ignore[attr-defined]

    def pair(self) -> tuple[str, str]:
        provider, _, model = self.cleaned_data["embedding_model"].partition("|")
        return provider, model
