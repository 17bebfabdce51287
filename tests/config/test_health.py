import time

import pytest
import redis

from config import worker_beats
from tests.eventually import eventually
from tests.private_services import RedisServer
from tests.workers import Worker


@pytest.fixture
def private_redis(settings):
    """/readyz and the worker beats on a Redis of the test's own, which it may stop."""
    server = RedisServer()
    settings.REDIS_URL = server.url
    yield server
    server.stop()


def test_it_answers_healthz_without_touching_the_database(client):
    # No db fixture: pytest-django fails the test if the view queries the database.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_it_is_ready_with_a_live_worker(client, celery_worker):
    def ready():
        response = client.get("/readyz")
        return response.status_code == 200 and response

    response = eventually(ready, timeout=10)
    report = response.json()
    assert report["database"] == "ok"
    assert report["redis"] == "ok"
    assert report["workers"].startswith("ok: ")


def test_it_goes_unready_when_redis_stops(client, db, private_redis):
    worker_beats.beat("celery@test")
    assert client.get("/readyz").json() == {"database": "ok", "redis": "ok", "workers": "ok: 1 live"}

    private_redis.stop()

    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["redis"].startswith("down: ")
    assert response.json()["workers"].startswith("down: ")


def test_it_is_unready_without_a_recent_worker_heartbeat(client, db, private_redis, settings):
    worker_beats.beat("celery@old", now=time.time() - settings.READY_WORKER_SECONDS - 1)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "database": "ok",
        "redis": "ok",
        "workers": f"down: no worker heartbeat in the last {settings.READY_WORKER_SECONDS} s",
    }


def test_a_worker_beats_while_it_runs_and_is_forgotten_when_it_stops(without_worker, settings):
    beats = redis.Redis.from_url(settings.REDIS_URL)
    worker = Worker()
    try:
        eventually(lambda: beats.zscore(worker_beats.KEY, worker.name) is not None, timeout=10)
    finally:
        worker.stop()
    assert beats.zscore(worker_beats.KEY, worker.name) is None
