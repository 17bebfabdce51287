"""How big a node's output and a run's answer may be, checked before anything is stored."""

import json
from typing import Any

from engine.errors import NonRetryableError
from engine.registry import NodeResult

# Above the HTTP node's largest response body (20 MB) with room for its headers and JSON escapes.
MAX_OUTPUT_BYTES = 25_000_000
# The answer is stored on the run and sent in its webhooks and API answers; it is text for a person.
MAX_ANSWER_BYTES = 1_000_000


def check(result: NodeResult) -> None:
    """Fail the node (output_too_large, bad_output) when its result is too big or is not JSON data.

    The output is stored on the node run and read by every later node; a result PostgreSQL cannot
    take (an integer of 5,000 digits, NaN) used to leave the node running until the reaper gave up.
    """
    _measure(result.output, MAX_OUTPUT_BYTES, "output")
    if result.answer is not None:
        _measure(result.answer, MAX_ANSWER_BYTES, "answer")


def _measure(value: Any, limit: int, what: str) -> None:
    try:
        size = len(json.dumps(value, ensure_ascii=False, allow_nan=False).encode())
    except (TypeError, ValueError, RecursionError):
        raise NonRetryableError(f"The node's {what} is not JSON data that can be stored", code="bad_output") from None
    if size > limit:
        raise NonRetryableError(
            f"The node's {what} is {size} bytes; the limit is {limit}", code="output_too_large", size=size, limit=limit
        )
