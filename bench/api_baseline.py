"""The baseline bench/api_trigger.py compares the trigger with: authenticate the same token, insert one row.

A URLconf of its own (bench/api_settings.py), so the endpoint is never routed in production.
"""

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from accounts import tokens
from accounts.models import Scope
from config.urls import urlpatterns as production

TABLE = "bench_api_baseline"


def create_table() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (id bigserial PRIMARY KEY, token_id bigint, body text)")


@csrf_exempt  # a Bearer token, no cookie: what the API's own operations accept
def baseline(request: HttpRequest) -> JsonResponse:
    token = tokens.authenticate(request.headers.get("Authorization", "").removeprefix("Bearer "))
    if token is None:
        return JsonResponse({"detail": "Unauthorized"}, status=401)
    tokens.check_scope(token, Scope.RUNS_TRIGGER.value)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {TABLE} (token_id, body) VALUES (%s, %s) RETURNING id",  # noqa: S608  (a constant)
            [token.pk, request.body.decode()],
        )
        row = cursor.fetchone()
    return JsonResponse({"id": row[0]}, status=202)


urlpatterns = [path("bench/baseline", baseline), *production]
