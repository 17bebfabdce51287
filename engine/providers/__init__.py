"""Model providers behind one small protocol: chat completion, embeddings, token usage.

`embed` and `embedding_choices` are the entry points other apps use (knowledge bases embed
their chunks with them); nodes call models through engine.providers.calls.
"""

from dataclasses import dataclass

from engine.errors import NonRetryableError
from engine.providers import tokens, vectors

BUILTIN = "builtin"
BUILTIN_LABEL = "built-in (offline)"
BUILTIN_EMBEDDING_MODEL = f"hashing-{vectors.DIMENSION}"


@dataclass(frozen=True)
class Embeddings:
    vectors: list[list[float]]
    tokens: int


def embed(workspace_id: int, provider: str, model: str, texts: list[str]) -> Embeddings:
    """Vectors for `texts`, one per text, from the workspace's provider.

    "builtin" is the offline hashing vectorizer: fixed dimension, L2-normalised, deterministic.
    Raises NonRetryableError for an unknown provider or model, NodeError (retryable) when a
    remote provider is briefly unavailable.
    """
    if provider == BUILTIN:
        if model != BUILTIN_EMBEDDING_MODEL:
            raise NonRetryableError(f"the built-in provider has no embedding model {model!r}", code="unknown_model")
        return Embeddings(vectors=[vectors.hashed(text) for text in texts], tokens=tokens.count_all(texts))
    raise NonRetryableError(f"no provider named {provider!r} in this workspace", code="unknown_provider")


def embedding_choices(workspace_id: int) -> list[tuple[str, str]]:
    """("provider|model", label) pairs for a form's embedding model picker; the built-in one first."""
    return [(f"{BUILTIN}|{BUILTIN_EMBEDDING_MODEL}", f"{BUILTIN_LABEL} · {BUILTIN_EMBEDDING_MODEL}")]
