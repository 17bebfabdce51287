"""Token counting with a real BPE tokenizer whose vocabulary ships inside the bpe-openai wheel.

o200k_base is the encoding of OpenAI's current models; the built-in provider counts with it
too, so offline runs exercise the same cost arithmetic as real ones.
"""

from functools import cache

# The wheel ships no py.typed marker.
import bpe_openai  # type: ignore[import-untyped]

ENCODING = "o200k_base"


@cache
def _encoding() -> bpe_openai.Encoding:
    return bpe_openai.get_encoding(ENCODING)


def count(text: str) -> int:
    if not text:
        return 0
    return len(_encoding().encode(text, disallowed_special=()))


def count_all(texts: list[str]) -> int:
    return sum(count(text) for text in texts)


def truncate(text: str, limit: int) -> str:
    """The text cut to at most `limit` tokens, on a token boundary."""
    tokens = _encoding().encode(text, disallowed_special=())
    if len(tokens) <= limit:
        return text
    return _encoding().decode(tokens[:limit])
