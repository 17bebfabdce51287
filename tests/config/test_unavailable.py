"""While Redis or PostgreSQL is unavailable the API answers 503 JSON with Retry-After, and pages a retry page."""

import signal

import psycopg
import pytest
from django.db import close_old_connections, connection
from django.test import Client

from accounts import tokens
from accounts.models import Membership
from config.unavailable import RETRY_AFTER_S
from engine.models import Run
from tests.factories import WorkflowFactory, WorkflowVersionFactory
from tests.private_services import RedisServer

GRAPH = {"schema_version": 1, "nodes": [{"id": "start", "type": "trigger"}], "edges": []}


def bearer(member: Membership, *scopes: str) -> dict[str, str]:
    secret = tokens.issue(member.workspace, member.user, "ci", list(scopes), None).secret
    return {"Authorization": f"Bearer {secret}"}


def assert_unavailable(response, service: str) -> None:
    assert response.status_code == 503, response.content
    assert response["Retry-After"] == str(RETRY_AFTER_S)
    error = response.json()["error"]
    assert error["code"] == "unavailable"
    assert error["details"] == {"service": service, "retry_after": RETRY_AFTER_S}


def test_the_trigger_answers_503_while_the_rate_limiters_redis_is_down(owner, private_redis: RedisServer, settings):
    # The rate limiter counts in the cache; this test's cache is the private Redis it stops.
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": private_redis.url}
    }
    flow = WorkflowFactory(workspace=owner.workspace, draft=GRAPH)
    WorkflowVersionFactory(workflow=flow, number=1, graph=GRAPH)
    headers = bearer(owner, "runs:trigger")
    client = Client()

    def trigger():
        return client.post(f"/api/v1/workflows/{flow.pk}/runs", {}, content_type="application/json", headers=headers)

    assert trigger().status_code == 202

    private_redis.stop(signal.SIGKILL)
    assert_unavailable(trigger(), "redis")
    assert Run.objects.count() == 1, "no run is started past a limit that could not be counted"

    private_redis.start()
    assert trigger().status_code == 202
    assert Run.objects.count() == 2


@pytest.fixture
def persistent_connection(transactional_db, monkeypatch):
    """This thread's database connection kept across requests, as a web process with CONN_MAX_AGE keeps it."""
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", None)
    connection.close()


def drop_connection() -> None:
    """End this thread's PostgreSQL session from another one, as a PostgreSQL restart ends it."""
    connection.ensure_connection()
    backend = connection.connection.info.backend_pid
    params = connection.get_connection_params()
    with psycopg.connect(
        host=params.get("host"), port=params.get("port"), user=params.get("user"), dbname=params["dbname"]
    ) as other:
        # With a timeout, pg_terminate_backend returns once the session is gone, not when it was signalled.
        assert other.execute("SELECT pg_terminate_backend(%s, 5000)", [backend]).fetchone() == (True,)


def end_of_request() -> None:
    """What the server does after every request: close a connection that failed, so the next request connects
    afresh. Django's test client leaves this out, to keep a test's connection across its requests."""
    close_old_connections()


@pytest.mark.usefixtures("persistent_connection")
def test_the_api_answers_503_when_the_database_connection_drops(owner):
    client = Client()
    headers = bearer(owner, "workflows:read")
    assert client.get("/api/v1/workflows", headers=headers).status_code == 200

    drop_connection()
    assert_unavailable(client.get("/api/v1/workflows", headers=headers), "database")

    end_of_request()
    assert client.get("/api/v1/workflows", headers=headers).status_code == 200


@pytest.mark.usefixtures("persistent_connection")
def test_a_page_shows_the_retry_page_when_the_database_connection_drops(owner):
    # The session is read in middleware, before any view: Django's handler500 answers for it.
    client = Client(raise_request_exception=False)
    client.force_login(owner.user)
    assert client.get("/workflows/").status_code == 200

    drop_connection()
    page = client.get("/workflows/")
    assert page.status_code == 503
    assert page["Retry-After"] == str(RETRY_AFTER_S)
    assert "Back in a moment" in page.content.decode()

    end_of_request()
    assert client.get("/workflows/").status_code == 200
