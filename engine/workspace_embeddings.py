"""The workspace's embedding model: what semantic similarity uses when its scorer names none, and what the new
knowledge base form preselects. Chosen by owners from the models the workspace's providers can embed with;
stored on the workspace, blank for the built-in hashing embeddings (the default)."""

from dataclasses import dataclass

from accounts.models import Workspace
from engine.providers import BUILTIN, BUILTIN_EMBEDDING_MODEL, catalog


@dataclass(frozen=True)
class EmbeddingModel:
    provider: str
    model: str

    @property
    def choice(self) -> str:
        """The value of this model in a form's picker (engine.providers.embedding_choices)."""
        return f"{self.provider}|{self.model}"


DEFAULT = EmbeddingModel(BUILTIN, BUILTIN_EMBEDDING_MODEL)


class EmbeddingModelInvalid(ValueError):
    """Not an embedding model of the workspace; `field` is `provider` or `model`."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def of_workspace(workspace_id: int) -> EmbeddingModel:
    """The workspace's choice, as stored: a provider removed since is still named, and its calls then fail."""
    stored = Workspace.objects.filter(pk=workspace_id).values_list("embedding_provider", "embedding_model").first()
    if stored is None or not stored[0]:
        return DEFAULT
    return EmbeddingModel(*stored)


def check(workspace_id: int, provider: str, model: str) -> EmbeddingModel:
    """The pair if the workspace's provider lists `model` among its embedding models; EmbeddingModelInvalid if not."""
    entry = next((entry for entry in catalog(workspace_id) if entry["name"] == provider), None)
    if entry is None:
        raise EmbeddingModelInvalid("provider", f"there is no provider named {provider!r} in this workspace")
    offered = entry["embedding_models"]
    if not offered:
        raise EmbeddingModelInvalid(
            "provider", f"provider {provider!r} lists no embedding models: add them to its configuration first"
        )
    if model not in offered:
        listed = ", ".join(offered)
        raise EmbeddingModelInvalid("model", f"{model!r} is not an embedding model of {provider!r} (it lists {listed})")
    return EmbeddingModel(provider, model)


def choose(workspace: Workspace, provider: str, model: str) -> EmbeddingModel:
    """Check and store the workspace's embedding model (the caller checked that the user may manage it)."""
    chosen = check(workspace.pk, provider, model)
    stored = EmbeddingModel("", "") if chosen == DEFAULT else chosen
    workspace.embedding_provider, workspace.embedding_model = stored.provider, stored.model
    workspace.save(update_fields=["embedding_provider", "embedding_model"])
    return chosen
