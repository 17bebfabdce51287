"""Celery tasks: thin, ids only; the work is in runner.py, webhooks.py and reaper.py.

acks_late and ignore_result come from settings (CELERY_TASK_ACKS_LATE, CELERY_TASK_IGNORE_RESULT).
"""

from celery import shared_task
from django.conf import settings

from engine import (
    holders,  # noqa: F401  (every worker process beats as a lease holder: connected to the worker's start and stop)
    reaper,
    runner,
    webhooks,
)


@shared_task(soft_time_limit=settings.ENGINE_TASK_SOFT_LIMIT_S, time_limit=settings.ENGINE_TASK_HARD_LIMIT_S)
def execute_node(*node_run_ids: int) -> None:
    runner.execute(node_run_ids)


@shared_task(soft_time_limit=30, time_limit=40)
def deliver_webhook(delivery_id: int) -> None:
    webhooks.deliver(delivery_id)


@shared_task(soft_time_limit=50, time_limit=60)
def reap() -> dict[str, int]:
    return reaper.reap()
