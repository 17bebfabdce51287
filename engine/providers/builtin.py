"""The built-in offline provider: no key, no network, deterministic.

Classification scores the text against each label's description and examples (TF-IDF
cosine); generation is extractive, the passages' sentences nearest the request, each cited;
structured output fills the schema from the text; embeddings are hashed word features.
Token counts come from a real tokenizer, so costs and budgets behave as with a remote model.
"""

import json
import re
import time
from typing import Any

from engine.providers import structured, tokens, vectors
from engine.providers.base import (
    SOURCES_HEADER,
    ChatRequest,
    Completion,
    Exchange,
    OnText,
    Passage,
    ToolCall,
    message_text,
)
from engine.providers.similarity import Index, classify
from engine.providers.tool_use import offline_turn

NAME = "builtin"
KIND = "builtin"
LABEL = "built-in (offline)"
CHAT_MODEL = "builtin-extractive"
EMBEDDING_MODEL = f"hashing-{vectors.DIMENSION}"
SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
# A streamed answer's pieces: a word with the space or line break after it, as a model's tokens come.
PIECE = re.compile(r"\S+\s*|\s+")
MAX_CITED = 3


class BuiltinProvider:
    name = NAME
    kind = KIND
    label = LABEL

    def chat(self, request: ChatRequest, timeout_s: float, on_text: OnText | None = None) -> Completion:
        started = time.monotonic()
        query = _last_user_message(request)
        calls: list[ToolCall] = []
        data: Any
        if request.tools or request.tool_use:
            turn = offline_turn(request, compose)
            data, text, calls = turn.data, turn.text, turn.calls
        elif request.labels:
            data = classify(query, list(request.labels))
            text = json.dumps(data)
        elif request.schema is not None:
            data = structured.fill(request.schema, query, request.passages)
            text = json.dumps(data)
        else:
            data = None
            text = compose(query, list(request.passages))
        if request.max_tokens:
            text = tokens.truncate(text, request.max_tokens)
        if on_text is not None and data is None:
            for piece in PIECE.findall(text):
                on_text(piece)
        prompt = "\n".join(message_text(message) for message in request.messages)
        text_out = json.dumps([call.__dict__ for call in calls]) if calls else text
        exchange = Exchange(
            tokens_in=tokens.count(prompt),
            tokens_out=tokens.count(text_out),
            latency_ms=int((time.monotonic() - started) * 1000),
            raw=text_out,
        )
        return Completion(text=text, data=data, exchanges=[exchange], tool_calls=calls)

    def embed(self, model: str, texts: list[str], timeout_s: float) -> tuple[list[list[float]], int]:
        return [vectors.hashed(text) for text in texts], tokens.count_all(texts)


def _last_user_message(request: ChatRequest) -> str:
    for message in reversed(request.messages):
        if message["role"] == "user":
            return str(message["content"]).split(SOURCES_HEADER, 1)[0]
    return ""


def compose(query: str, passages: list[Passage]) -> str:
    """A greeting from the prompt's labelled lines, the passages' sentences nearest the request
    (each with its source number), then the sources; without passages, a promise of follow-up."""
    customer = structured.labelled("customer", query) or structured.labelled("name", query)
    subject = structured.labelled("subject", query)
    opening = f"Hello {customer or 'there'}, thank you for contacting us" + (
        f" about \u201c{subject}\u201d." if subject else "."
    )
    if not passages:
        return f"{opening} A member of our team will look into it and follow up shortly."
    sentences: list[tuple[str, int]] = []
    for number, passage in enumerate(passages, start=1):
        sentences.extend((sentence.strip(), number) for sentence in SENTENCE.split(passage.text) if sentence.strip())
    ranked = Index([sentence for sentence, _ in sentences]).scores(query)
    order = sorted(range(len(sentences)), key=lambda position: (-ranked[position], position))
    chosen = sorted(position for position in order[:MAX_CITED] if ranked[position] > 0) or order[:1]
    cited = sorted({sentences[position][1] for position in chosen})
    lines = [f"{sentences[position][0]} [{sentences[position][1]}]" for position in chosen]
    sources = [f"[{number}] {_source_name(passages[number - 1])}" for number in cited]
    return "\n".join([opening, "", *lines, "", "Sources:", *sources])


def _source_name(passage: Passage) -> str:
    title = passage.title or passage.source or "passage"
    return f"{title} ({passage.source})" if passage.source and passage.title else title
