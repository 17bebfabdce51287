"""Forms for workspace settings: they validate, the functions in accounts.workspaces change things."""

from django import forms

from accounts.models import Role, Scope


class WorkspaceForm(forms.Form):
    name = forms.CharField(max_length=100, strip=True)


class InviteForm(forms.Form):
    """Who to invite: text with an @ is taken as an e-mail address, anything else as a username."""

    invitee = forms.CharField(max_length=254, strip=True, label="Username or e-mail")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.VIEWER)

    def invitee_fields(self) -> dict[str, str]:
        invitee = self.cleaned_data["invitee"]
        return {"email": invitee} if "@" in invitee else {"username": invitee}


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, strip=True)
    scopes = forms.MultipleChoiceField(choices=Scope.choices, widget=forms.CheckboxSelectMultiple)
    expires_in_days = forms.IntegerField(
        required=False, min_value=1, max_value=3650, help_text="Leave empty for no expiry"
    )
