"""The engine's own node kinds; importing this package registers them."""

from engine.nodes import branching, delay, http_request, outcomes, transform, trigger

__all__ = ["branching", "delay", "http_request", "outcomes", "transform", "trigger"]
