import math

import pytest

from engine.errors import NonRetryableError
from engine.providers import BUILTIN_EMBEDDING_MODEL, embed, embedding_choices
from engine.providers.vectors import cosine
from tests.factories import ProviderConfigFactory
from tests.fake_openai import FakeOpenAI


def test_it_embeds_offline_with_a_fixed_dimension_and_unit_length():
    texts = ["My order has not arrived", "Where is my order?", "Reset my password please"]

    result = embed(1, "builtin", BUILTIN_EMBEDDING_MODEL, texts)

    assert len(result.vectors) == 3
    assert {len(vector) for vector in result.vectors} == {512}
    assert all(math.isclose(math.sqrt(sum(v * v for v in vector)), 1.0) for vector in result.vectors)
    assert cosine(result.vectors[0], result.vectors[1]) > cosine(result.vectors[0], result.vectors[2])
    assert result.tokens == 14


def test_it_embeds_the_same_text_the_same_way_every_time():
    first = embed(1, "builtin", BUILTIN_EMBEDDING_MODEL, ["refund for a damaged parcel"])
    second = embed(2, "builtin", BUILTIN_EMBEDDING_MODEL, ["refund for a damaged parcel"])

    assert first.vectors == second.vectors


def test_it_refuses_an_unknown_builtin_model():
    with pytest.raises(NonRetryableError, match="no embedding model"):
        embed(1, "builtin", "ada", ["x"])


@pytest.mark.django_db
def test_it_offers_the_builtin_model_first():
    assert embedding_choices(1)[0] == ("builtin|hashing-512", "built-in (offline) · hashing-512")


@pytest.mark.django_db
def test_it_embeds_with_a_configured_provider_and_lists_its_models(workspace):
    fake = FakeOpenAI(tokens_in=7)
    try:
        ProviderConfigFactory(workspace=workspace, name="vllm", base_url=fake.url, embedding_models=["e5"], api_key="k")
        result = embed(workspace.pk, "vllm", "e5", ["first", "second"])
    finally:
        fake.close()

    assert result.vectors == [[0.1, 0.2, 0.0], [0.1, 0.2, 1.0]]
    assert result.tokens == 7
    assert (fake.seen[0].path, fake.seen[0].body["model"], fake.seen[0].body["input"]) == (
        "/v1/embeddings",
        "e5",
        ["first", "second"],
    )
    assert ("vllm|e5", "vllm · e5") in embedding_choices(workspace.pk)


@pytest.mark.django_db
def test_it_refuses_a_provider_the_workspace_does_not_have(workspace):
    with pytest.raises(NonRetryableError, match="no provider named 'elsewhere'"):
        embed(workspace.pk, "elsewhere", "e5", ["x"])
