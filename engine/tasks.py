"""Celery tasks: thin, ids only; the work is in runner.py and reaper.py."""

from celery import shared_task
from django.conf import settings

from engine import reaper, runner, webhooks


@shared_task(
    acks_late=True,
    ignore_result=True,
    soft_time_limit=settings.ENGINE_TASK_SOFT_LIMIT_S,
    time_limit=settings.ENGINE_TASK_HARD_LIMIT_S,
)
def execute_node(*node_run_ids: int) -> None:
    runner.execute(node_run_ids)


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=30, time_limit=40)
def deliver_webhook(delivery_id: int) -> None:
    webhooks.deliver(delivery_id)


@shared_task(ignore_result=True, soft_time_limit=50, time_limit=60)
def reap() -> dict[str, int]:
    return reaper.reap()
