"""Celery tasks of the builder: thin, the work is in schedules.py."""

from celery import shared_task

from builder import schedules


@shared_task(soft_time_limit=50, time_limit=60)
def fire_schedules() -> dict[str, int]:
    firings = schedules.fire_due()
    return {
        "fired": sum(1 for f in firings if f.run_id is not None),
        "failed": sum(1 for f in firings if f.error),
        "skipped": sum(f.skipped for f in firings),
    }
