"""Model providers behind one small protocol: chat completion, embeddings, token usage.

`embed` and `embedding_choices` are what other apps use (knowledge bases embed their chunks
with them); `catalog` feeds the canvas's model pickers; nodes call models through
engine.providers.calls, which adds fallback, cache, budgets and billing.
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.errors import NonRetryableError
from engine.providers import builtin
from engine.providers.base import Provider

if TYPE_CHECKING:
    from engine.models import ProviderConfig

BUILTIN = builtin.NAME
BUILTIN_LABEL = builtin.LABEL
BUILTIN_EMBEDDING_MODEL = builtin.EMBEDDING_MODEL
BUILTIN_CHAT_MODEL = builtin.CHAT_MODEL
EMBED_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Embeddings:
    vectors: list[list[float]]
    tokens: int


def resolve(workspace_id: int, name: str, found: "tuple[ProviderConfig | None, list[str]] | None" = None) -> Provider:
    """The provider called `name` in the workspace; NonRetryableError if there is none.

    `found`: its configuration and the workspace's allowlist, if the caller read them already
    (lookups.call_facts reads them with a call's other facts)."""
    from engine import provider_configs, secrets, workspace_secrets
    from engine.providers.openai_compatible import OpenAICompatibleProvider
    from engine.sql import lookups

    if name == BUILTIN:
        return builtin.BuiltinProvider()
    config, allowlist = found if found is not None else lookups.provider_config(workspace_id, name)
    if config is None:
        raise NonRetryableError(f"There is no provider named {name!r} in this workspace", code="unknown_provider")
    try:
        key = secrets.decrypt(config.api_key_encrypted) if config.api_key_encrypted else ""
    except secrets.UnreadableSecret:
        raise NonRetryableError(
            f"The API key of provider {name!r} cannot be decrypted with the configured CREDENTIAL_KEYS; "
            "an owner must enter it again, or the old key must be restored (docs/deploy.md)",
            code="unreadable_credentials",
        ) from None
    return OpenAICompatibleProvider(
        config.name,
        config.base_url,
        key,
        workspace_secrets.render_headers(workspace_id, provider_configs.headers_to_send(config.headers)),
        float(config.timeout_s),
        allowlist=allowlist,
    )


def embed(workspace_id: int, provider: str, model: str, texts: list[str]) -> Embeddings:
    """Vectors for `texts`, one per text, from the workspace's provider.

    "builtin" is the offline hashing vectorizer: fixed dimension, L2-normalised, deterministic.
    Raises NonRetryableError for an unknown provider or model, engine.providers.base.Unavailable
    (a retryable NodeError) when a remote provider cannot answer now.
    """
    if provider == BUILTIN and model != BUILTIN_EMBEDDING_MODEL:
        raise NonRetryableError(f"the built-in provider has no embedding model {model!r}", code="unknown_model")
    vectors, used = resolve(workspace_id, provider).embed(model, texts, EMBED_TIMEOUT_S)
    return Embeddings(vectors=vectors, tokens=used)


def catalog(workspace_id: int) -> list[dict[str, Any]]:
    """Every provider a node of the workspace may name: {name, kind, label, models, embedding_models}."""
    from engine.models import ProviderConfig

    found = [
        {
            "name": BUILTIN,
            "kind": builtin.KIND,
            "label": BUILTIN_LABEL,
            "models": [BUILTIN_CHAT_MODEL],
            "embedding_models": [BUILTIN_EMBEDDING_MODEL],
        }
    ]
    for config in ProviderConfig.objects.filter(workspace_id=workspace_id).order_by("name"):
        found.append(
            {
                "name": config.name,
                "kind": config.kind,
                "label": config.name,
                "models": list(config.chat_models),
                "embedding_models": list(config.embedding_models),
            }
        )
    return found


def embedding_choices(workspace_id: int) -> list[tuple[str, str]]:
    """("provider|model", label) pairs for a form's embedding model picker; the built-in one first."""
    return [
        (f"{entry['name']}|{model}", f"{entry['label']} · {model}")
        for entry in catalog(workspace_id)
        for model in entry["embedding_models"]
    ]
