"""Shared fixtures: the real services, the three personas, an ASGI server and a Celery worker."""

import asyncio
import contextlib
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
import uvicorn
from django.conf import settings
from django.contrib.auth.management import create_permissions
from django.contrib.contenttypes.management import create_contenttypes
from django.db import connection
from django.db.models.signals import post_migrate
from django.http import HttpRequest
from django.test import Client
from websockets.exceptions import InvalidState

from accounts.models import Membership, Role, Workspace
from config.celery import app
from engine.models import ModelPrice, ProviderConfig
from tests import database_template
from tests.eventually import eventually
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
from tests.private_services import RedisServer, free_port
from tests.workers import SharedWorker, Worker, close_fork_server

ROOT = Path(__file__).resolve().parent.parent


def pytest_sessionstart(session: pytest.Session) -> None:
    """Stop at once, with the fix, when PostgreSQL or Redis is not there."""
    if settings.EMBEDDED:
        return  # only the engine core runs on SQLite (pytest_collection_modifyitems)
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


def pytest_sessionfinish() -> None:
    close_fork_server()


@pytest.fixture(autouse=True)
def fast_password_hashing(settings) -> None:
    """Slow hashing is for production; tests sign in hundreds of times."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


CORE = "tests/engine/core/"
# How django.contrib.auth connects create_permissions (AuthConfig.ready).
PERMISSIONS_UID = "django.contrib.auth.management.create_permissions"


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests go last: Playwright keeps an event loop running in the main thread for the
    rest of the session, and Django's test client cannot adapt async middleware under it.

    Among the transactional tests, those that stop the session's worker or bring their own go
    first, so that the shared worker starts once after them instead of again after each such
    module. The order pytest-django gives (tests that roll back, then transactional ones, then
    the rest) and the random order within each group stay as they are.

    In the embedded mode (SQLite, no Redis) only the engine core can run: the rest needs
    PostgreSQL, Redis and real workers.
    """
    if settings.EMBEDDED and (elsewhere := [item.nodeid for item in items if not item.nodeid.startswith(CORE)]):
        raise pytest.UsageError(
            f"Without DATABASE_URL and REDIS_URL (SQLite) only {CORE} runs; {elsewhere[0]} needs PostgreSQL and "
            "Redis: set both, or use `make pytest`."
        )
    for item in items:
        if "tests/browser/" in item.nodeid:
            item.add_marker(pytest.mark.browser)
    items.sort(key=lambda item: (item.get_closest_marker("browser") is not None, django_rank(item), shares(item)))


def django_rank(item: pytest.Item) -> int:
    """pytest-django's order: 0 for a test that rolls back, 1 for a transactional one, 2 without the database."""
    marker = item.get_closest_marker("django_db")
    fixtures = set(getattr(item, "fixturenames", ()))
    if (marker and marker.kwargs.get("transaction")) or fixtures & {"transactional_db", "live_server"}:
        return 1
    return 0 if marker or "db" in fixtures else 2


def shares(item: pytest.Item) -> bool:
    """False for a test that stops the session's worker, or whose module overrides worker_process with its own."""
    module = getattr(item, "module", None)
    own = module is not None and "worker_process" in vars(module)
    return not (own or "without_worker" in getattr(item, "fixturenames", ()))


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
        """The token a page of the session carries; once a page has set the CSRF cookie, the cookie's secret.

        The page's token is that secret masked, and Django accepts either form, so only the first
        write renders a page for it; the cookie follows a rotation (at sign-in) as a newly
        rendered page would.
        """
        if (cookie := self.cookies.get(settings.CSRF_COOKIE_NAME)) and cookie.value:
            return str(cookie.value)
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
    """uvicorn serving the app in a thread of this process, on its own event loop."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True, name="asgi-test-server")
        # Imported here rather than by uvicorn in the server's thread: the first import of the ASGI
        # stack took longer than the server's start is given on a loaded machine (10 s at load 25).
        from config.asgi import application

        config = uvicorn.Config(application, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
        self.server = uvicorn.Server(config)
        self.loop: asyncio.AbstractEventLoop | None = None

    def run(self) -> None:
        with asyncio.Runner(loop_factory=self.server.config.get_loop_factory()) as runner:
            runner.run(self.serve())

    async def serve(self) -> None:
        self.loop = asyncio.get_running_loop()
        await self.server.serve()

    def end_connections(self, timeout: float) -> None:
        """Closes every connection, as a stop would, once its response is sent; what is still running after
        `timeout` s is cancelled, as uvicorn's graceful shutdown does when its time is up."""
        assert self.loop is not None
        ended = asyncio.run_coroutine_threadsafe(self._end_connections(), self.loop)
        try:
            ended.result(timeout)
        except TimeoutError:
            ended.cancel()
            self.loop.call_soon_threadsafe(self._cancel_requests)

    async def _end_connections(self) -> None:
        state = self.server.server_state
        for open_connection in list(state.connections):
            # A websocket the browser was already closing (its context is closed first) ends on its own.
            with contextlib.suppress(InvalidState):
                open_connection.shutdown()
        while state.connections or state.tasks:
            await asyncio.sleep(0.01)

    def _cancel_requests(self) -> None:
        for task in self.server.server_state.tasks:
            task.cancel()
        for open_connection in list(self.server.server_state.connections):
            if transport := getattr(open_connection, "transport", None):
                transport.close()


@pytest.fixture(scope="session")
def session_asgi_server(django_db_setup: None) -> Iterator[ServerThread]:
    """One uvicorn for the session: starting one per test cost each test a server start and stop."""
    thread = ServerThread(free_port())
    thread.start()
    eventually(lambda: thread.server.started, timeout=10, message="the test ASGI server did not start")
    yield thread
    thread.server.should_exit = True
    thread.join(10)


@pytest.fixture
def asgi_server(transactional_db: None, session_asgi_server: ServerThread) -> Iterator[str]:
    """The production ASGI stack (uvicorn, HTTP and websockets) on a free port, over the test database.

    The server is the session's; after the test every connection the test opened is closed and
    its requests finished, before the flush empties the tables they read, so nothing of one
    test reaches the next.
    """
    yield f"http://127.0.0.1:{session_asgi_server.server.config.port}"
    session_asgi_server.end_connections(timeout=10)


@pytest.fixture(scope="session")
def django_db_keepdb(request: pytest.FixtureRequest, django_db_createdb: bool) -> bool:
    """On PostgreSQL, a fresh copy of the migrated template rather than a new migration (tests/database_template.py).

    Django is told to keep the database: the copy, made here, is then used as it is, and when
    there was no current template to copy it finds none and migrates one. Either way it is
    left at the end; the next session drops it. `--create-db` migrates anew as before.
    """
    if settings.EMBEDDED:
        return bool(request.config.getvalue("reuse_db"))
    if not django_db_createdb:
        database_template.copy_from_template(settings.DATABASES["default"])
    return True


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None) -> Iterator[None]:
    """The test database; on PostgreSQL, kept as the template for the next sessions when the migrations
    made it, and without Django's post_migrate handlers after each flush.

    The flush after a transactional test keeps the content types and permissions
    (tests/postgresql), so the handlers that write them back after a flush would only read them
    again: some 30 ms of this process's CPU and 8 ms of PostgreSQL's after every transactional
    test. They ran when the migrations made the database.
    """
    if settings.EMBEDDED:  # SQLite's flush is Django's own, which empties those tables too
        yield
        return
    connection.close()  # a database is copied only while nobody is connected to it
    database_template.keep_as_template(settings.DATABASES["default"], connection.settings_dict["NAME"])
    post_migrate.disconnect(create_contenttypes)
    post_migrate.disconnect(create_permissions, dispatch_uid=PERMISSIONS_UID)
    yield
    post_migrate.connect(create_contenttypes)
    post_migrate.connect(create_permissions, dispatch_uid=PERMISSIONS_UID)


@pytest.fixture(scope="session")
def shared_worker(django_db_setup: None) -> Iterator[SharedWorker]:
    """One real `celery worker` process on Redis over the test database, for every test that needs one."""
    shared = SharedWorker()
    yield shared
    shared.stop()


@pytest.fixture
def worker_process(shared_worker: SharedWorker) -> Worker:
    """The session's worker; a module that needs one configured otherwise overrides this fixture."""
    return shared_worker.get()


@pytest.fixture
def without_worker(shared_worker: SharedWorker) -> None:
    """Stops the session's worker: the test's tasks stay queued, or go to the workers it starts (and kills) itself.

    A transactional test that starts runs and requests no worker needs this: the shared worker
    would otherwise run them, racing the test and the flush after it.
    """
    shared_worker.stop()


@pytest.fixture
def celery_worker(transactional_db: None, worker_process: Worker) -> Iterator[Worker]:
    """The worker, and after the test a wait until it and the engine are idle.

    The worker sees only committed rows, so its tests are transactional; such a test empties
    every table after it ends, and a worker still writing a run the test started and did not
    wait for would deadlock with that. Requesting transactional_db here puts this wait before it.
    """
    yield worker_process
    worker_process.settle()


@pytest.fixture
def in_process(transactional_db: None) -> Iterator[None]:
    """The engine in the test's thread: a node's task runs as soon as the commit that made it ready, no worker.

    Celery's documented eager mode: dispatch's after-commit send runs runner.execute at once,
    so start() returns once the run has gone as far as it can without waiting; wait_for sends
    the nodes whose timer or retry delay has come (tests.engine.running). The nodes themselves
    still run on the runner's node threads, with their own database connections, so the test
    is transactional: they see only what is committed.
    """
    before = (app.conf.task_always_eager, app.conf.task_eager_propagates)
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = before


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


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    """A `redis-server` of the test's own (tests.private_services), to stop and restart; killed after the test."""
    server = RedisServer()
    try:
        yield server
    finally:
        server.stop(signal.SIGKILL)
