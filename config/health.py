"""Liveness of the services a web process depends on, for load balancers and compose health checks."""

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET


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


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    report = {"database": database_status(), "redis": redis_status()}
    healthy = all(not value.startswith("down") for value in report.values())
    return JsonResponse(report, status=200 if healthy else 503)
