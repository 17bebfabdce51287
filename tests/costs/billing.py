"""Cost rows for the costs tests, written by the real writer (engine.costs.record) on dated days."""

from datetime import datetime, timedelta
from itertools import count

import time_machine
from django.utils import timezone

from accounts.models import Workspace
from engine import costs
from engine.models import CostEntry, Run
from tests.factories import RunFactory

_attempts = count(1)
# Noon UTC, so that a call and its rollup day agree in any time zone the tests use.
NOON = timedelta(hours=12)


def bill(
    run: Run,
    model: str = "gpt-x",
    tokens_in: int = 1000,
    tokens_out: int = 500,
    *,
    node: str = "draft",
    node_type: str = "generate",
    at: datetime | None = None,
    cached: bool = False,
    provider: str = "OpenAI",
) -> CostEntry:
    call = costs.Call(provider, "openai_compatible", model, tokens_in, tokens_out, cached=cached)
    with time_machine.travel(at or timezone.now(), tick=False):
        entry = costs.record(run.pk, node, node_type, next(_attempts), call)
    assert entry is not None
    return entry


def day(days_ago: int) -> datetime:
    today = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=days_ago) + NOON


def run_in(workspace: Workspace, at: datetime | None = None, **fields: object) -> Run:
    with time_machine.travel(at or timezone.now(), tick=False):
        return RunFactory(workspace=workspace, **fields)
