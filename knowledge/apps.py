from django.apps import AppConfig


class KnowledgeConfig(AppConfig):
    name = "knowledge"
    verbose_name = "Knowledge bases"

    def ready(self) -> None:
        # Registers the "retrieve" and "knowledge_upsert" node kinds with the engine (the engine imports no app).
        import knowledge.agent_tools
        import knowledge.nodes  # noqa: F401
        from accounts.signals import workspace_created
        from knowledge.demo import on_workspace_created

        workspace_created.connect(on_workspace_created, dispatch_uid="knowledge.help_centre")
