from django.apps import AppConfig


class EngineConfig(AppConfig):
    name = "engine"
    verbose_name = "Execution engine"

    def ready(self) -> None:
        from engine import nodes  # noqa: F401  (registers the built-in node kinds)
