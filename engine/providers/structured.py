"""JSON against a schema: checking a model's answer, and the built-in provider's extractive filling."""

import re
from typing import Any

import jsonschema

from engine import json_input
from engine.providers.base import Label, Passage
from engine.providers.similarity import Index, classify

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
# A mismatch is sent back to the model in the repair prompt; bounded so the budget estimate can bound that prompt.
MISMATCH_CHARS = 300


class SchemaMismatch(ValueError):
    """The answer is not JSON, or not valid against the schema; the message says where."""


def parse(text: str, schema: dict[str, Any]) -> Any:
    """The JSON in `text` (a fenced ```json block is accepted) if it is valid against `schema`."""
    body = text.strip()
    fenced = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", body, re.DOTALL)
    if fenced:
        body = fenced.group(1)
    try:
        data = json_input.parse(body)
    except json_input.JsonRefused as error:
        raise SchemaMismatch(f"the answer is not usable JSON ({error})"[:MISMATCH_CHARS]) from None
    problem = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(data))
    if problem is not None:
        where = "/".join(map(str, problem.absolute_path)) or "(root)"
        raise SchemaMismatch(f"the answer does not match the schema at {where}: {problem.message}"[:MISMATCH_CHARS])
    return data


def check_schema(schema: dict[str, Any]) -> None:
    """Raises jsonschema.SchemaError when `schema` itself is not a valid JSON Schema."""
    jsonschema.Draft202012Validator.check_schema(schema)


def fill(schema: dict[str, Any], text: str, passages: tuple[Passage, ...] = ()) -> Any:
    """A value for `schema` taken from `text`: labelled lines ("Order: 1234"), e-mail addresses,
    numbers, the enum member nearest the text, the sentence nearest a field's description."""
    kind = schema.get("type")
    if "enum" in schema:
        return _nearest_member(schema["enum"], text)
    if kind == "object":
        properties: dict[str, Any] = schema.get("properties", {})
        return {name: _field(name, sub, text, passages) for name, sub in properties.items()}
    if kind == "array":
        return []
    return _field("value", schema, text, passages)


def _field(name: str, schema: dict[str, Any], text: str, passages: tuple[Passage, ...]) -> Any:
    kind = schema.get("type")
    if "enum" in schema or kind in {"object", "array"}:
        return fill(schema, text, passages)
    stated = labelled(name, text)
    if kind in {"number", "integer"}:
        found = NUMBER.search(stated or "")
        if found:
            return int(float(found.group())) if kind == "integer" else float(found.group())
        if kind == "number" and passages:
            # A self-rating with nothing stated: how well the passages cover the text.
            return round(max(Index([p.text for p in passages]).scores(text), default=0.0), 4)
        return 0
    if kind == "boolean":
        return bool(stated and stated.strip().lower() in {"yes", "true", "1"})
    if stated:
        return stated
    if "email" in name.lower() or schema.get("format") == "email":
        address = EMAIL.search(text)
        return address.group() if address else ""
    return _nearest_sentence(f"{name.replace('_', ' ')} {schema.get('description', '')}", text)


def labelled(name: str, text: str) -> str | None:
    """The value on a line "Name: value"; `order_id` also matches "Order id", "Order ID" and "Order"."""
    words = [re.escape(word) for word in name.split("_") if word]
    spelled = "[ _-]?".join(words) + (
        "|" + "[ _-]?".join(words[:-1]) if len(words) > 1 and words[-1] in {"id", "number"} else ""
    )
    found = re.search(rf"^\s*(?:{spelled})\s*[:=#]\s*(.+?)\s*$", text, re.IGNORECASE | re.MULTILINE)
    return found.group(1) if found else None


def _nearest_member(members: list[Any], text: str) -> Any:
    if not members:
        return None
    best = classify(text, [Label(name=str(member)) for member in members])["label"]
    return next(member for member in members if str(member) == best)


def _nearest_sentence(query: str, text: str) -> str:
    sentences = [sentence.strip() for sentence in SENTENCE.split(text) if sentence.strip()]
    if not sentences:
        return ""
    scores = Index(sentences).scores(query)
    return sentences[max(range(len(sentences)), key=lambda position: (scores[position], -position))]
