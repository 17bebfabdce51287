"""Shared fixtures: the real services, the three personas, an ASGI server and a Celery worker."""

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
import uvicorn
from django.conf import settings
from django.db.models import Q
from django.http import HttpRequest
from django.test import Client

from accounts.models import Membership, Role, Workspace
from config.celery import app
from engine.models import ModelPrice, NodeRun, NodeStatus, ProviderConfig, RunStatus
from tests.factories import (
    PASSWORD,
    MembershipFactory,
    ModelPriceFactory,
    ProviderConfigFactory,
    UserFactory,
    WorkspaceFactory,
)
from tests.fake_openai import FakeOpenAI
from tests.fakes import RecordingServer
from tests.workers import Worker

ROOT = Path(__file__).resolve().parent.parent


def pytest_sessionstart(session: pytest.Session) -> None:
    """Stop at once, with the fix, when PostgreSQL or Redis is not there."""
    if settings.EMBEDDED:
        pytest.exit("The tests run on PostgreSQL and Redis: set DATABASE_URL and REDIS_URL, or use `make test`.", 2)
    db = {key: str(value or "") for key, value in settings.DATABASES["default"].items()}
    try:
        psycopg.connect(
            host=db["HOST"],
            port=db["PORT"] or 5432,
            user=db["USER"],
            password=db["PASSWORD"] or None,
            dbname="postgres",
            connect_timeout=3,
        ).close()
    except psycopg.OperationalError as error:
        pytest.exit(
            f"PostgreSQL is not answering at {db['HOST']}:{db['PORT']} ({error}). Start it with: "
            "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
            2,
        )
    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as error:
        pytest.exit(
            f"Redis is not answering at {settings.REDIS_URL} ({error}). Start it with: "
            "redis-server --daemonize yes --bind 127.0.0.1 --port 6379",
            2,
        )


@pytest.fixture(autouse=True)
def fast_password_hashing(settings) -> None:
    """Slow hashing is for production; tests sign in hundreds of times."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests go last: Playwright keeps an event loop running in the main thread for the
    rest of the session, and Django's test client cannot adapt async middleware under it."""
    for item in items:
        if "tests/browser/" in item.nodeid:
            item.add_marker(pytest.mark.browser)
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def workspace(db: None) -> Workspace:
    return WorkspaceFactory(name="Support", slug="support")


@pytest.fixture
def owner(workspace: Workspace) -> Membership:
    return MembershipFactory(workspace=workspace, user=UserFactory(username="olivia"), role=Role.OWNER)


@pytest.fixture
def teammate(workspace: Workspace) -> Membership:
    """An editor in the owner's workspace."""
    return MembershipFactory(workspace=workspace, user=UserFactory(username="ted"), role=Role.EDITOR)


@pytest.fixture
def outsider(db: None) -> Membership:
    """Owner of a different workspace: sees nothing of the personas' workspace."""
    return MembershipFactory(user=UserFactory(username="oscar"), role=Role.OWNER)


class SessionClient(Client):
    """A signed-in browser session that sends the CSRF token with writes, as the pages' JS does."""

    def csrf_token(self) -> str:
        page = self.get("/accounts/settings/").content.decode()
        return page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]

    def post_form(self, url: str, data: dict[str, Any] | None = None, **extra: Any) -> Any:
        return self.post(url, {"csrfmiddlewaretoken": self.csrf_token(), **(data or {})}, **extra)

    def post_json(self, url: str, data: object = None) -> Any:
        return self.post(url, data or {}, content_type="application/json", headers={"X-CSRFToken": self.csrf_token()})


def signed_in(member: Membership) -> SessionClient:
    client = SessionClient(enforce_csrf_checks=True)
    # django-axes throttles by request, so authenticate() needs one even outside a view.
    assert client.login(request=HttpRequest(), username=member.user.username, password=PASSWORD)
    return client


@pytest.fixture
def login_as():
    return signed_in


class ServerThread(threading.Thread):
    def __init__(self, port: int) -> None:
        super().__init__(daemon=True, name="asgi-test-server")
        config = uvicorn.Config(
            "config.asgi:application", host="127.0.0.1", port=port, lifespan="off", log_level="warning"
        )
        self.server = uvicorn.Server(config)

    def run(self) -> None:
        self.server.run()


@pytest.fixture
def asgi_server(transactional_db: None) -> Iterator[str]:
    """The production ASGI stack (uvicorn, HTTP and websockets) on a free port, over the test database."""
    port = free_port()
    thread = ServerThread(port)
    thread.start()
    deadline = time.monotonic() + 10
    while not thread.server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test ASGI server did not start within 10 s")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    thread.server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def worker_process(django_db_setup: None, django_db_blocker: object) -> Iterator[Worker]:
    """A real `celery worker` process on Redis over the test database, one per test module.

    Module scope lets a module that kills workers (the crash test) run with no other worker
    consuming the same queue.
    """
    app.control.purge()
    worker = Worker()
    yield worker
    worker.stop()


@pytest.fixture
def celery_worker(transactional_db: None, worker_process: Worker) -> Iterator[Worker]:
    """The module's worker, and after the test a wait until it is idle.

    The worker sees only committed rows, so its tests are transactional; such a test empties
    every table after it ends (TRUNCATE), and a worker still writing a run the test started
    and did not wait for would deadlock with it. Requesting transactional_db here puts this
    wait before that.
    """
    yield worker_process
    deadline = time.monotonic() + 15
    busy = Q(run__status__in=[RunStatus.QUEUED, RunStatus.RUNNING]) & ~Q(status__in=[NodeStatus.WAITING])
    while NodeRun.objects.filter(busy).exists() or NodeRun.objects.filter(status=NodeStatus.RUNNING).exists():
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    time.sleep(0.2)  # the last commit's after-commit work (dispatch, prompts)


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    fake = RecordingServer()
    yield fake
    fake.close()


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    """A fake OpenAI-compatible server that reports 1000 tokens in and 500 out for every call."""
    server = FakeOpenAI(tokens_in=1000, tokens_out=500)
    yield server
    server.close()


@pytest.fixture
def provider(workspace: Workspace, fake: FakeOpenAI) -> ProviderConfig:
    """The workspace's provider "fake", on the fake server, with the API key sk-test."""
    return ProviderConfigFactory(workspace=workspace, name="fake", base_url=fake.url, api_key="sk-test")


@pytest.fixture
def price(db: None) -> ModelPrice:
    """gpt-test at $2.50 in and $10 out per million tokens: a fake call costs $0.0075."""
    return ModelPriceFactory()
