"""The node execution a thread works on, added to every log line it writes, with its revealed secrets taken out.

The runner sets it around each node's code (on its node thread) and around what the task's
thread does for that node (claim, render, record). ThreadPoolExecutor does not copy context
variables into its threads, so each thread sets its own.
"""

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from engine import spans


@dataclass(frozen=True)
class NodeExecution:
    run_id: int
    node_id: str
    attempt: int


current: ContextVar[NodeExecution | None] = ContextVar("node_execution", default=None)


@contextmanager
def executing(run_id: int, node_id: str, attempt: int) -> Iterator[None]:
    token = current.set(NodeExecution(run_id, node_id, attempt))
    try:
        yield
    finally:
        current.reset(token)


class NodeFields(logging.Filter):
    """Adds run_id, node_id and attempt to each record of a node execution, and trace_id when traced.

    A record made while a node holds revealed secrets (a library logging the URL it called,
    say) has them replaced by their placeholders, as the node's stored output has.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        execution = current.get()
        if execution is not None:
            record.run_id = execution.run_id
            record.node_id = execution.node_id
            record.attempt = execution.attempt
        if trace_id := spans.trace_id():
            record.trace_id = trace_id
        # Looked up, not imported: logging is configured before Django's apps load, and
        # engine.workspace_secrets imports models. Until it is loaded no node holds secrets.
        holder = sys.modules.get("engine.workspace_secrets")
        secrets = holder.in_use.get() if holder is not None else None
        if secrets is not None and secrets.revealed:
            record.msg = secrets.redact(record.getMessage())
            record.args = None
            if record.exc_info:
                record.exc_text = secrets.redact(logging.Formatter().formatException(record.exc_info))
                record.exc_info = None
        return True
