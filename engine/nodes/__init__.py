"""The engine's own node kinds; importing this package registers them."""

from engine.nodes import (
    agent,
    branching,
    classify,
    confidence_check,
    delay,
    extract,
    for_each,
    generate,
    http_request,
    outcomes,
    subworkflow,
    transform,
    trigger,
)

__all__ = [
    "agent",
    "branching",
    "classify",
    "confidence_check",
    "delay",
    "extract",
    "for_each",
    "generate",
    "http_request",
    "outcomes",
    "subworkflow",
    "transform",
    "trigger",
]
