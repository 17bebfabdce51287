"""Write the frontend's copy of engine/event_types.py (frontend/src/lib/eventTypes.generated.ts)."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from engine.event_types import typescript

TARGET = settings.BASE_DIR / "frontend" / "src" / "lib" / "eventTypes.generated.ts"


class Command(BaseCommand):
    help = "Write frontend/src/lib/eventTypes.generated.ts from engine/event_types.py."

    def handle(self, *args: Any, **options: Any) -> None:
        TARGET.write_text(typescript())
        self.stdout.write(f"Wrote {TARGET.relative_to(settings.BASE_DIR)}")
