"""Re-encrypt stored provider API keys and workspace secrets under the first CREDENTIAL_KEYS key (docs/deploy.md)."""

from typing import Any

from django.core.management.base import BaseCommand

from engine import workspace_secrets
from engine.provider_configs import rotate_all


class Command(BaseCommand):
    help = "Re-encrypt every stored provider API key and workspace secret with the newest credential key."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"Re-encrypted {rotate_all()} provider API keys with the newest key.")
        self.stdout.write(f"Re-encrypted {workspace_secrets.rotate_all()} workspace secrets with the newest key.")
