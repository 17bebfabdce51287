"""MCP servers a workspace registered: where agent tools come from (engine/mcp_client.py)."""

from django.db import models

from accounts.models import WorkspaceOwned


class McpServer(WorkspaceOwned):
    """A streamable-HTTP MCP server. Its headers (credentials, typically) are stored encrypted as one
    JSON object (engine/secrets.py) and never shown again; only their names are kept in clear."""

    name = models.SlugField(max_length=100, help_text="How agent tools name this server")
    url = models.URLField(max_length=500)
    header_names = models.JSONField(default=list, blank=True)
    headers_encrypted = models.TextField(blank=True)
    timeout_s = models.PositiveIntegerField(default=30)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="one_mcp_server_name_per_workspace")]

    def __str__(self) -> str:
        return f"{self.name} ({self.url})"
