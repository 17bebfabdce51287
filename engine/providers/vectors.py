"""Text to vectors without a model: word features hashed into a fixed dimension.

Used by the built-in provider for embeddings and for classification; deterministic across
processes (crc32, not Python's salted hash()).
"""

import itertools
import math
import re
import zlib
from collections import Counter

DIMENSION = 512
WORD = re.compile(r"[^\W_]+", re.UNICODE)
# Short function words carry no topic; dropping them keeps similarity about content.
# fmt: off
STOP_WORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "can", "do", "for", "from", "has", "have", "i",
    "if", "in", "is", "it", "its", "me", "my", "no", "not", "of", "on", "or", "our", "so", "that", "the", "their",
    "them", "then", "there", "they", "this", "to", "was", "we", "were", "will", "with", "you", "your",
})
# fmt: on


def words(text: str) -> list[str]:
    return [word for word in WORD.findall(text.lower()) if word not in STOP_WORDS]


def features(text: str) -> Counter[str]:
    """Words, their light stems and adjacent word pairs: pairs keep some word order."""
    found = words(text)
    counts: Counter[str] = Counter(found)
    counts.update(stem(word) for word in found if stem(word) != word)
    counts.update(f"{first} {second}" for first, second in itertools.pairwise(found))
    return counts


def stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s", "ly"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def hashed(text: str, dimension: int = DIMENSION) -> list[float]:
    """An L2-normalised vector: log-scaled counts, signed by a second hash bit so collisions cancel."""
    vector = [0.0] * dimension
    for feature, number in features(text).items():
        digest = zlib.crc32(feature.encode())
        sign = 1.0 if digest & 0x80000000 else -1.0
        vector[digest % dimension] += sign * (1.0 + math.log(number))
    return normalised(vector)


def normalised(vector: list[float]) -> list[float]:
    length = math.sqrt(sum(value * value for value in vector))
    if not length:
        return vector
    return [value / length for value in vector]


def cosine(left: list[float], right: list[float]) -> float:
    """Cosine of two L2-normalised vectors."""
    return sum(a * b for a, b in zip(left, right, strict=True))
