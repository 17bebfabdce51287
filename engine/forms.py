"""Forms for engine settings; they validate, views save."""

from django import forms

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
