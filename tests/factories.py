"""One factory per model."""

import json
from datetime import timedelta
from decimal import Decimal

import factory
from django.contrib.auth.models import User
from django.utils import timezone

from accounts.models import Membership, Role, Workspace
from builder.models import Workflow, WorkflowVersion
from engine import secrets
from engine.models import Budget, BudgetScope, McpServer, ModelPrice, ProviderConfig, Run
from knowledge.models import Document, KnowledgeBase, SourceKind

PASSWORD = "correct horse battery staple"


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def save_password(self, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            self.save()


class WorkspaceFactory(factory.django.DjangoModelFactory[Workspace]):
    class Meta:
        model = Workspace

    name = factory.Sequence(lambda n: f"Workspace {n}")
    slug = factory.Sequence(lambda n: f"workspace-{n}")


class MembershipFactory(factory.django.DjangoModelFactory[Membership]):
    class Meta:
        model = Membership

    workspace = factory.SubFactory(WorkspaceFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.VIEWER


class WorkflowFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Workflow

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"Workflow {n}")


class WorkflowVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WorkflowVersion

    workflow = factory.SubFactory(WorkflowFactory)
    number = factory.Sequence(lambda n: n + 1)
    graph = factory.LazyAttribute(lambda version: version.workflow.draft)


class RunFactory(factory.django.DjangoModelFactory):
    """A run row on its own; engine.runs.start_run makes real ones."""

    class Meta:
        model = Run

    workspace = factory.SubFactory(WorkspaceFactory)
    graph = factory.LazyFunction(
        lambda: {"schema_version": 1, "nodes": [{"id": "start", "type": "trigger"}], "edges": []}
    )


class ApprovalRequestFactory(factory.django.DjangoModelFactory):
    """A request row on its own (no waiting node behind it); real ones come from running an approval node."""

    class Meta:
        model = "approvals.ApprovalRequest"

    workspace = factory.SubFactory(WorkspaceFactory)
    run = factory.SubFactory(RunFactory, workspace=factory.SelfAttribute("..workspace"))
    node_run_id = 0
    node_id = factory.Sequence(lambda n: f"review{n}")
    title = factory.Sequence(lambda n: f"Review ticket {n}")
    allowed_decisions = factory.LazyFunction(lambda: ["approve", "edit_and_approve", "reject", "escalate"])
    fields = factory.LazyFunction(lambda: [{"name": "reply", "label": "Reply", "type": "textarea", "value": "Hi"}])


class KnowledgeBaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = KnowledgeBase

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"Knowledge base {n}")


class DocumentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Document

    knowledge_base = factory.SubFactory(KnowledgeBaseFactory)
    workspace = factory.LazyAttribute(lambda document: document.knowledge_base.workspace)
    title = factory.Sequence(lambda n: f"Document {n}")
    kind = SourceKind.TEXT
    raw = b"Some text."


class McpServerFactory(factory.django.DjangoModelFactory[McpServer]):
    """An MCP server registration; pass `headers` to store them encrypted as the app does."""

    class Meta:
        model = McpServer
        exclude = ("headers",)

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"mcp{n}")
    url = "http://127.0.0.1:9/mcp"
    timeout_s = 10
    headers: dict[str, str] = {}
    header_names = factory.LazyAttribute(lambda server: sorted(server.headers))
    headers_encrypted = factory.LazyAttribute(
        lambda server: secrets.encrypt(json.dumps(server.headers)) if server.headers else ""
    )


class ProviderConfigFactory(factory.django.DjangoModelFactory[ProviderConfig]):
    """An OpenAI-compatible provider; pass `api_key` to store it encrypted as the app does."""

    class Meta:
        model = ProviderConfig
        exclude = ("api_key",)
        skip_postgeneration_save = True

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"server{n}")
    base_url = "http://127.0.0.1:9/v1"
    chat_models = factory.LazyFunction(lambda: ["gpt-test"])
    embedding_models = factory.LazyFunction(lambda: ["embed-test"])
    api_key = ""
    api_key_encrypted = factory.LazyAttribute(lambda config: secrets.encrypt(config.api_key) if config.api_key else "")

    @factory.post_generation
    def admit_loopback(self, create: bool, extracted: object, **kwargs: object) -> None:
        """Fake model servers listen on 127.0.0.1, which the outbound guard refuses until an owner
        allowlists it (Settings → Network), as they would for a vLLM or Ollama on their own machine."""
        workspace = self.workspace
        if create and extracted is not False and "127.0.0.1" not in workspace.http_allowlist:
            workspace.http_allowlist = [*workspace.http_allowlist, "127.0.0.1"]
            workspace.save(update_fields=["http_allowlist"])


class BudgetFactory(factory.django.DjangoModelFactory[Budget]):
    class Meta:
        model = Budget

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"Budget {n}")
    scope = BudgetScope.WORKSPACE_MONTH
    limit = Decimal("100")


class ModelPriceFactory(factory.django.DjangoModelFactory[ModelPrice]):
    """A global price in force since a month ago: $2.50 in, $10 out per million tokens."""

    class Meta:
        model = ModelPrice

    provider_kind = "openai_compatible"
    model = "gpt-test"
    input_per_million = Decimal("2.50")
    output_per_million = Decimal("10")
    effective_from = factory.LazyFunction(lambda: timezone.now() - timedelta(days=30))
