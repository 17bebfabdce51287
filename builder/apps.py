from django.apps import AppConfig


class BuilderConfig(AppConfig):
    name = "builder"
    verbose_name = "Workflow builder"

    def ready(self) -> None:
        from accounts.signals import workspace_created
        from builder.calls import resolve
        from builder.starters import on_workspace_created
        from engine.runs.children import register_resolver

        register_resolver(resolve)

        workspace_created.connect(on_workspace_created, dispatch_uid="builder.support_triage")
