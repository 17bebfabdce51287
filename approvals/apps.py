from django.apps import AppConfig


class ApprovalsConfig(AppConfig):
    name = "approvals"
    verbose_name = "Human approvals"

    def ready(self) -> None:
        # Registers the "approval" node kind with the engine (the engine imports no app).
        import approvals.nodes
        import approvals.tool_calls  # noqa: F401  (reviews the agent node's tool calls)
