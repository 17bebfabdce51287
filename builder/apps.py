from django.apps import AppConfig


class BuilderConfig(AppConfig):
    name = "builder"
    verbose_name = "Workflow builder"

    def ready(self) -> None:
        from django.core.signals import request_finished
        from django.db import close_old_connections

        from accounts.signals import workspace_created
        from builder.api import send_held
        from builder.calls import resolve
        from builder.starters import on_workspace_created
        from engine.runs.children import register_resolver

        register_resolver(resolve)

        workspace_created.connect(on_workspace_created, dispatch_uid="builder.support_triage")
        # Before Django gives the request's database connection back (builder.api.send_held).
        request_finished.disconnect(close_old_connections)
        request_finished.connect(send_held, dispatch_uid="builder.send_held")
        request_finished.connect(close_old_connections)
