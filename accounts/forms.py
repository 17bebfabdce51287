"""Forms for workspace settings: they validate, the functions in accounts.workspaces change things."""

from typing import Any

from django import forms
from django.contrib.auth import get_user_model

from accounts.models import Role, Scope


class WorkspaceForm(forms.Form):
    name = forms.CharField(max_length=100, strip=True)


class AddMemberForm(forms.Form):
    username = forms.CharField(max_length=150, strip=True, help_text="An existing account's username")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.VIEWER)

    def clean_username(self) -> Any:
        username = self.cleaned_data["username"]
        user = get_user_model()._default_manager.filter(username=username, is_active=True).first()
        if user is None:
            raise forms.ValidationError(f"No active account is called {username!r}")
        return user


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, strip=True)
    scopes = forms.MultipleChoiceField(choices=Scope.choices, widget=forms.CheckboxSelectMultiple)
    expires_in_days = forms.IntegerField(
        required=False, min_value=1, max_value=3650, help_text="Leave empty for no expiry"
    )
