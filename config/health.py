"""Health endpoints for load balancers and compose health checks.

/healthz says the process answers (nothing else is touched, so a database outage does not get
a healthy web process restarted); /readyz says it can do its work: the database and Redis
answer and at least one worker has recorded a heartbeat lately (config/worker_beats.py).
"""

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from config import worker_beats


def database_status() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as error:  # noqa: BLE001  (any failure means "down"; its class is the useful part)
        return f"down: {type(error).__name__}"
    return "ok"


def redis_status() -> str:
    if not settings.REDIS_URL:
        return "not used (embedded mode)"
    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        return f"down: {type(error).__name__}"
    return "ok"


def workers_status() -> str:
    within = settings.READY_WORKER_SECONDS
    try:
        count = worker_beats.live_workers(within)
    except redis.RedisError as error:
        return f"down: {type(error).__name__}"
    if not count:
        return f"down: no worker heartbeat in the last {within} s"
    return f"ok: {count} live"


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    report = {"database": database_status(), "redis": redis_status(), "workers": workers_status()}
    ready = all(not value.startswith("down") for value in report.values())
    return JsonResponse(report, status=200 if ready else 503)
