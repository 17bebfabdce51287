"""Re-encrypt stored provider API keys under the first CREDENTIAL_KEYS key (see docs/deploy.md)."""

from typing import Any

from django.core.management.base import BaseCommand

from engine.provider_configs import rotate_all


class Command(BaseCommand):
    help = "Re-encrypt every stored provider API key with the newest credential key."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"Re-encrypted {rotate_all()} provider API keys with the newest key.")
