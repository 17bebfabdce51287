"""503 answers for requests that found PostgreSQL or Redis unavailable: JSON for the API, a retry page otherwise.

A restart of either service lasts seconds; a client told 503 with Retry-After retries, where a
500 reads as a bug. config/api.py answers the API's own errors; `server_error` (handler500)
answers the rest, including failures in middleware (the session, the current workspace),
which Django turns into its 500 response before any other middleware could see them.
"""

import logging
import sys

import kombu.exceptions
import psycopg
import redis
from django import db
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.views import defaults

logger = logging.getLogger(__name__)

# The outages this answers are restarts of seconds, and the 503 itself is cheap (it touches
# neither service). A client told 5 s after a 2 s restart idled 3 s past it: in bench/chaos
# those refused triggers were the runs that made the chaos p95 (docs/benchmarks.md, "Chaos").
RETRY_AFTER_S = 1

# Connection failures and timeouts only: a bad query or a constraint violation is a bug, and
# stays a 500. Django wraps psycopg's errors in its own; psycopg's are here for code that
# talks to the driver directly. kombu's OperationalError is Celery failing to reach its broker.
DATABASE_ERRORS: tuple[type[Exception], ...] = (
    db.OperationalError,
    db.InterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)
REDIS_ERRORS: tuple[type[Exception], ...] = (
    redis.ConnectionError,
    redis.TimeoutError,
    kombu.exceptions.OperationalError,
)
ERRORS = DATABASE_ERRORS + REDIS_ERRORS


def service(error: BaseException) -> str:
    return "database" if isinstance(error, DATABASE_ERRORS) else "redis"


def api_response(request: HttpRequest, error: BaseException) -> HttpResponse:
    """The API's error shape, code `unavailable`, with Retry-After."""
    logger.warning("503 for %s %s: %s unavailable (%r)", request.method, request.path, service(error), error)
    body = {
        "error": {
            "code": "unavailable",
            "message": f"A service this request needs is unavailable; retry in {RETRY_AFTER_S} s",
            "details": {"service": service(error), "retry_after": RETRY_AFTER_S},
        }
    }
    response = JsonResponse(body, status=503)
    response["Retry-After"] = str(RETRY_AFTER_S)
    return response


def page_response() -> HttpResponse:
    # Rendered without the request: context processors read the session and the workspace,
    # which is what failed.
    response = HttpResponse(loader.get_template("503.html").render(), status=503)
    response["Retry-After"] = str(RETRY_AFTER_S)
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: 503 when the uncaught error is an unavailable service, else Django's own 500 page."""
    error = sys.exc_info()[1]  # handler500 runs inside Django's except block for the error
    if not isinstance(error, ERRORS):
        return defaults.server_error(request)
    if request.path.startswith("/api/"):
        return api_response(request, error)
    return page_response()
