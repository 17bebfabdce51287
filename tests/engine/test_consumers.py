"""The run websocket through the real ASGI stack and the Redis channel layer."""

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async

from config.asgi import application
from engine.event_types import EventType
from engine.events import change
from engine.models import RunEvent
from tests.accounts.test_consumers import session_cookie
from tests.engine.graphs import TRIGGER, chain, node
from tests.engine.running import start
from tests.factories import RunFactory
from tests.metrics_text import TOKEN, scrape, value
from tests.sockets import Socket

pytestmark = pytest.mark.django_db(transaction=True)


def burst(run_id: int, count: int) -> None:
    """`count` committed transitions, each publishing its prompt, as a busy run would."""
    for n in range(count):
        with change(run_id) as step:
            step.event(EventType.NODE_RUNNING, f"n{n}")


def connect(cookie: bytes | None, run_id: int, after: int = 0, origin: bytes = b"http://localhost") -> Socket:
    headers = [(b"host", b"localhost"), (b"origin", origin)] + ([(b"cookie", cookie)] if cookie else [])
    return Socket(application, f"/ws/runs/{run_id}/?after={after}", headers=headers)


async def receive_events(socket: Socket, count: int) -> list[int]:
    seqs = []
    for _ in range(count):
        message = await socket.receive_json_from(timeout=10)
        assert message["type"] == "event"
        seqs.append(message["seq"])
    return seqs


@pytest.fixture
def run(owner):
    run = RunFactory(workspace=owner.workspace)
    burst(run.pk, 5)
    return run


def test_it_replays_then_streams_every_event_once_in_order(owner, run):
    cookie = session_cookie(owner)

    async def scenario() -> tuple[dict, list[int]]:
        socket = connect(cookie, run.pk)
        assert (await socket.connect())[0]
        hello = await socket.receive_json_from(timeout=5)
        replayed = await receive_events(socket, 5)
        await database_sync_to_async(burst)(run.pk, 3)
        live = await receive_events(socket, 3)
        assert await socket.receive_nothing(timeout=0.3)
        await socket.disconnect()
        return hello, replayed + live

    hello, seqs = async_to_sync(scenario)()
    assert hello == {"type": "hello", "run": run.pk, "last_seq": 5}
    assert seqs == list(range(1, 9))


def test_it_keeps_order_under_a_burst_of_500_events(owner, run):
    cookie = session_cookie(owner)

    async def scenario() -> list[int]:
        socket = connect(cookie, run.pk, after=5)
        await socket.connect()
        await socket.receive_json_from(timeout=5)
        await database_sync_to_async(burst)(run.pk, 500)
        seqs = await receive_events(socket, 500)
        assert await socket.receive_nothing(timeout=0.3)
        await socket.disconnect()
        return seqs

    assert async_to_sync(scenario)() == list(range(6, 506))


def test_a_reconnecting_client_gets_what_it_missed_without_gaps_or_duplicates(owner, run):
    cookie = session_cookie(owner)

    async def scenario() -> list[int]:
        first = connect(cookie, run.pk)
        await first.connect()
        await first.receive_json_from(timeout=5)
        seen = await receive_events(first, 3)
        await first.disconnect()
        await database_sync_to_async(burst)(run.pk, 4)  # happens while the client is away
        second = connect(cookie, run.pk, after=seen[-1])
        await second.connect()
        await second.receive_json_from(timeout=5)
        seen += await receive_events(second, 6)
        assert await second.receive_nothing(timeout=0.3)
        await second.disconnect()
        return seen

    assert async_to_sync(scenario)() == list(range(1, 10))


def test_a_resume_message_resends_after_the_given_seq(owner, run):
    cookie = session_cookie(owner)

    async def scenario() -> list[int]:
        socket = connect(cookie, run.pk)
        await socket.connect()
        await socket.receive_json_from(timeout=5)
        await receive_events(socket, 5)
        await socket.send_json_to({"type": "resume", "after": 2})
        again = await receive_events(socket, 3)
        await socket.disconnect()
        return again

    assert async_to_sync(scenario)() == [3, 4, 5]


def test_events_carry_their_type_node_and_payload(owner, run):
    cookie = session_cookie(owner)

    async def scenario() -> dict:
        socket = connect(cookie, run.pk, after=4)
        await socket.connect()
        await socket.receive_json_from(timeout=5)
        event = await socket.receive_json_from(timeout=5)
        await socket.disconnect()
        return event

    event = async_to_sync(scenario)()
    stored = RunEvent.objects.get(run=run, seq=5)
    assert event == {
        "type": "event",
        "seq": 5,
        "event": "node.running",
        "node_id": "n4",
        "payload": {},
        "at": stored.created_at.isoformat(),
    }


@pytest.mark.usefixtures("without_worker")
def test_a_viewer_of_a_run_just_started_gets_its_first_events_from_the_database(owner):
    """A start sends no prompt (nobody can have joined the run's group before its id was given out)."""
    started = start(owner.workspace, chain(TRIGGER, node("answer", "reply", answer="hi")))
    cookie = session_cookie(owner)

    async def scenario() -> list[tuple[int, str, str]]:
        socket = connect(cookie, started.pk)
        assert (await socket.connect())[0]
        await socket.receive_json_from(timeout=5)
        events = [await socket.receive_json_from(timeout=5) for _ in range(3)]
        assert await socket.receive_nothing(timeout=0.3)
        await socket.disconnect()
        return [(e["seq"], e["event"], e["node_id"]) for e in events]

    assert async_to_sync(scenario)() == [
        (1, "run.queued", ""),
        (2, "node.succeeded", "start"),
        (3, "node.queued", "answer"),
    ]


@pytest.mark.parametrize(
    ("who", "origin", "code"),
    [
        ("outsider", b"http://localhost", 4404),
        ("anonymous", b"http://localhost", 4401),
        ("owner", b"https://evil.example", None),
    ],
)
def test_it_refuses_outsiders_anonymous_visitors_and_foreign_origins(request, run, who, origin, code):
    cookie = None if who == "anonymous" else session_cookie(request.getfixturevalue(who))

    async def scenario() -> tuple[bool, int | None]:
        return await connect(cookie, run.pk, origin=origin).connect()

    connected, close_code = async_to_sync(scenario)()
    assert connected is False
    if code is not None:
        assert close_code == code


def test_it_answers_404_for_a_run_that_does_not_exist(owner):
    cookie = session_cookie(owner)

    async def scenario() -> tuple[bool, int | None]:
        return await connect(cookie, 999_999).connect()

    assert async_to_sync(scenario)() == (False, 4404)


def test_it_counts_open_sockets_in_the_metrics(owner, run, client, settings):
    settings.METRICS_TOKEN, settings.PROMETHEUS_MULTIPROC_DIR = TOKEN, ""
    cookie = session_cookie(owner)

    def open_run_sockets() -> float:
        return value(scrape(client), "switchyard_websocket_connections", socket="RunConsumer")

    before = open_run_sockets()

    async def scenario() -> float:
        socket = connect(cookie, run.pk)
        assert (await socket.connect())[0]
        await socket.receive_json_from(timeout=5)
        during = await database_sync_to_async(open_run_sockets)()
        await socket.disconnect()
        return during

    assert async_to_sync(scenario)() == before + 1
    assert open_run_sockets() == before
