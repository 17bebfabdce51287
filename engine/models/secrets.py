"""Workspace secrets: named credentials that node params reference as {{ secrets.NAME }}."""

from django.conf import settings
from django.db import models

from accounts.models import WorkspaceOwned


class WorkspaceSecret(WorkspaceOwned):
    """A credential stored encrypted (engine/secrets.py); its value is write-only and never shown."""

    name = models.CharField(max_length=64)
    value_encrypted = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="one_secret_name_per_workspace")]

    def __str__(self) -> str:
        return self.name
