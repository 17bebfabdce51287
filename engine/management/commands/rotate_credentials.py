"""Re-encrypt stored provider API keys, workspace secrets and MCP server headers under the first CREDENTIAL_KEYS key
(docs/deploy.md)."""

from typing import Any

from django.core.management.base import BaseCommand

from engine import mcp_servers, workspace_secrets
from engine.provider_configs import rotate_all


class Command(BaseCommand):
    help = "Re-encrypt every stored provider API key, workspace secret and MCP server header with the newest key."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"Re-encrypted {rotate_all()} provider API keys with the newest key.")
        self.stdout.write(f"Re-encrypted {workspace_secrets.rotate_all()} workspace secrets with the newest key.")
        self.stdout.write(f"Re-encrypted the headers of {mcp_servers.rotate_all()} MCP servers with the newest key.")
