"""Forms of the secrets page; they validate the shape, engine/workspace_secrets.py the rest."""

from django import forms


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
