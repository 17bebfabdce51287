"""Errors a node raises. `retryable` decides whether the retry policy may try again."""

from typing import Any


class NodeError(Exception):
    """The node's own work failed; the message is shown to the user as the node's error."""

    code = "node_error"
    retryable = True

    def __init__(self, message: str, *, code: str | None = None, retryable: bool | None = None, **details: Any) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        if retryable is not None:
            self.retryable = retryable
        self.details = details


class NonRetryableError(NodeError):
    """Trying again cannot help: bad input, a refused address, a 4xx answer."""

    code = "non_retryable"
    retryable = False


class NodeTimeout(NodeError):
    code = "timeout"
