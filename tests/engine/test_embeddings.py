import math

import pytest

from engine.errors import NonRetryableError
from engine.providers import BUILTIN_EMBEDDING_MODEL, embed, embedding_choices
from engine.providers.vectors import cosine


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
