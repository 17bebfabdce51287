"""Token-aware chunking with overlap that keeps to headings and paragraphs.

Sizes are counted in o200k BPE tokens (engine.providers.tokens), the encoding current models
bill in. Cuts inside an over-long sentence and the overlap are placed at word boundaries
(`\\w+|[^\\w\\s]`, close to one BPE token each in English). A heading always starts a new chunk and travels with
the chunks under it; paragraphs are packed whole while they fit; a paragraph longer than a
chunk is cut at sentence ends, and a sentence longer than a chunk at token boundaries. Each
chunk after the first in a section starts with the last `overlap` tokens of the one before,
taken at a sentence or word boundary.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass

from engine.providers import tokens as bpe

TOKEN = re.compile(r"\w+|[^\w\s]")
SEPARATOR = " \u203a "  # a single right-pointing angle quotation mark between heading levels
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*$")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)")


@dataclass(frozen=True)
class Piece:
    text: str
    heading: str
    token_count: int


def count_tokens(text: str) -> int:
    return bpe.count(text)


def _sections(text: str) -> Iterator[tuple[str, list[str]]]:
    """(heading path, paragraphs) for each run of text under one heading."""
    path: list[tuple[int, str]] = []
    paragraphs: list[str] = []
    for block in re.split(r"\n\s*\n", text):
        block = block.strip()
        if not block:
            continue
        first, _, rest = block.partition("\n")
        found = HEADING.match(first)
        if found is None:
            paragraphs.append(block)
            continue
        if paragraphs:
            yield SEPARATOR.join(title for _, title in path), paragraphs
            paragraphs = []
        level = len(found.group(1))
        path = [(lvl, title) for lvl, title in path if lvl < level] + [(level, found.group(2))]
        if rest.strip():
            paragraphs.append(rest.strip())
    if paragraphs:
        yield SEPARATOR.join(title for _, title in path), paragraphs


def _units(paragraph: str, size: int) -> list[str]:
    """The paragraph whole if it fits, else its sentences, else token-bounded slices of them."""
    if count_tokens(paragraph) <= size:
        return [paragraph]
    units: list[str] = []
    for sentence in SENTENCE_END.split(paragraph):
        if count_tokens(sentence) <= size:
            units.append(sentence)
            continue
        units.extend(_slices(sentence, size))
    return units


def _slices(sentence: str, size: int) -> list[str]:
    """Cut at word boundaries into runs of at most about `size` tokens, counting each word with its leading space."""
    slices: list[str] = []
    start: int | None = None
    used = end = 0
    for word in TOKEN.finditer(sentence):
        cost = count_tokens(sentence[end : word.end()])
        if start is not None and used + cost > size:
            slices.append(sentence[start:end])
            start, used, cost = None, 0, count_tokens(word.group())
        if start is None:
            start = word.start()
        used, end = used + cost, word.end()
    if start is not None:
        slices.append(sentence[start:end])
    return slices


def _tail(text: str, tokens: int) -> str:
    """About the last `tokens` tokens of `text`, starting at a sentence start when one is near, else a word."""
    if tokens <= 0:
        return ""
    spans = [match.start() for match in TOKEN.finditer(text)]
    if len(spans) <= tokens:
        return text
    cut = spans[-tokens]
    sentence = next((m.end() for m in SENTENCE_END.finditer(text) if cut <= m.end() < len(text)), None)
    start = sentence if sentence is not None and count_tokens(text[sentence:]) >= tokens // 2 else cut
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    return text[start:].strip()


def chunk(text: str, size: int, overlap: int) -> list[Piece]:
    """Split normalised text into pieces of at most about `size` tokens (plus the overlap carried in)."""
    if size < 20:
        raise ValueError("chunk size must be at least 20 tokens")
    overlap = max(0, min(overlap, size // 2))
    pieces: list[Piece] = []
    for heading, paragraphs in _sections(text):
        parts: list[str] = []
        used = 0
        for unit in (u for paragraph in paragraphs for u in _units(paragraph, size - overlap)):
            tokens = count_tokens(unit)
            if parts and used + tokens > size:
                done = "\n\n".join(parts)
                pieces.append(Piece(done, heading, used))
                carried = _tail(done, overlap)
                parts, used = ([carried] if carried else []), count_tokens(carried)
            parts.append(unit)
            used += tokens
        if parts:
            pieces.append(Piece("\n\n".join(parts), heading, used))
    return pieces
