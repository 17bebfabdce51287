"""JSON that people send: parsed with a nesting limit, and without NaN, Infinity or U+0000 in it.

Python's json module recurses once per level, so a document nested 100,000 deep raises
RecursionError, which no `except ValueError` catches: it answered 500 at a dozen entry points.
PostgreSQL refuses NaN and U+0000 in jsonb and text columns, which failed later, at the save.
Every place that reads JSON from a request, a form or an uploaded file parses it here.
"""

import json
import re
from itertools import accumulate
from typing import Any

MAX_DEPTH = 64

# String literals with their escapes, then everything that is not a bracket: what is left is the nesting.
_STRINGS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


class JsonRefused(ValueError):
    """Not JSON, or JSON this server does not take; the message says which and where, for the user."""


def nesting(text: str, limit: int = MAX_DEPTH) -> int:
    """How deep arrays and objects nest in `text`, counted without recursion (an upper bound when
    the text is not JSON). The scans run in the regex engine; Python only adds up the brackets."""
    brackets = text.count("[") + text.count("{")
    if brackets <= limit:
        return brackets  # an upper bound, and already within the limit: no need to scan
    only = _NOT_BRACKETS.sub("", _STRINGS.sub("", text))
    return max(accumulate(map(_STEP.__getitem__, only)), default=0)


def _refuse_constant(name: str) -> Any:
    raise JsonRefused(f"{name} is not a JSON number")


def _nul_at(value: Any) -> str | None:
    """The path of the first string (or key) holding U+0000, walked with a stack rather than recursion."""
    pending: list[tuple[str, Any]] = [("", value)]
    while pending:
        path, item = pending.pop()
        if isinstance(item, str) and "\x00" in item:
            return path or "(root)"
        if isinstance(item, dict):
            for key, child in item.items():
                if "\x00" in key:
                    return f"{path}.{key!r}".lstrip(".")
                pending.append((f"{path}.{key}".lstrip("."), child))
        elif isinstance(item, list):
            pending.extend((f"{path}[{index}]", child) for index, child in enumerate(item))
    return None


def parse(raw: str | bytes, max_depth: int = MAX_DEPTH) -> Any:
    """The value in `raw` (UTF-8, -16 or -32 when bytes, as json.loads detects).

    Raises JsonRefused for malformed JSON, nesting deeper than `max_depth`, NaN or Infinity,
    and strings holding U+0000.
    """
    try:
        text = raw.decode(json.detect_encoding(raw), "surrogatepass") if isinstance(raw, bytes | bytearray) else raw
    except UnicodeDecodeError as error:
        raise JsonRefused(f"not JSON: not valid text ({error.reason})") from None
    if nesting(text, max_depth) > max_depth:
        raise JsonRefused(f"nested deeper than {max_depth} levels")
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except JsonRefused:
        raise
    except json.JSONDecodeError as error:
        raise JsonRefused(f"not JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
    except ValueError as error:  # an integer of more than 4,300 digits
        raise JsonRefused(f"not JSON: {error}") from None
    if "\\u0000" in text and (where := _nul_at(value)) is not None:
        raise JsonRefused(f"{where}: text cannot contain the NUL character (\\u0000)")
    return value


def parse_object(raw: str | bytes, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    """Like parse, for the many places that take only a JSON object."""
    value = parse(raw, max_depth)
    if not isinstance(value, dict):
        raise JsonRefused("must be a JSON object")
    return value
