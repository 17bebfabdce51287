"""The workspace websocket through the real ASGI stack (origin check, sessions) and the Redis channel layer."""

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.http import HttpRequest
from django.test import Client

from config.asgi import application
from engine.live import workspace_group
from tests.factories import PASSWORD
from tests.sockets import Socket

pytestmark = pytest.mark.django_db(transaction=True)


def session_cookie(member) -> bytes:
    client = Client()
    assert client.login(request=HttpRequest(), username=member.user.username, password=PASSWORD)
    client.get("/workflows/")  # the middleware stores the current workspace in the session
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()


def connect(cookie: bytes | None, origin: bytes = b"http://localhost") -> Socket:
    headers = [(b"host", b"localhost"), (b"origin", origin)] + ([(b"cookie", cookie)] if cookie else [])
    return Socket(application, "/ws/workspace/", headers=headers)


def test_it_streams_workspace_events_to_a_member(owner):
    cookie = session_cookie(owner)

    async def scenario() -> list[dict]:
        socket = connect(cookie)
        connected, _ = await socket.connect()
        assert connected
        hello = await socket.receive_json_from(timeout=5)
        await get_channel_layer().group_send(
            workspace_group(owner.workspace_id),
            {"type": "workspace.event", "payload": {"type": "run.started", "run": 7}},
        )
        event = await socket.receive_json_from(timeout=5)
        await socket.disconnect()
        return [hello, event]

    assert async_to_sync(scenario)() == [
        {"type": "subscribed", "workspace": owner.workspace_id},
        {"type": "run.started", "run": 7},
    ]


def test_it_does_not_leak_events_across_workspaces(owner, outsider):
    cookie = session_cookie(outsider)

    async def scenario() -> bool:
        socket = connect(cookie)
        await socket.connect()
        await socket.receive_json_from(timeout=5)
        await get_channel_layer().group_send(
            workspace_group(owner.workspace_id), {"type": "workspace.event", "payload": {"secret": True}}
        )
        nothing = await socket.receive_nothing(timeout=0.5)
        await socket.disconnect()
        return nothing

    assert async_to_sync(scenario)()


def test_it_closes_the_socket_of_an_anonymous_visitor(db):
    async def scenario() -> tuple[bool, int | None]:
        socket = connect(None)
        connected, code = await socket.connect()
        return connected, code

    assert async_to_sync(scenario)() == (False, 4401)


def test_it_refuses_a_foreign_origin(owner):
    cookie = session_cookie(owner)

    async def scenario() -> bool:
        socket = connect(cookie, origin=b"https://evil.example")
        connected, _ = await socket.connect()
        return connected

    assert async_to_sync(scenario)() is False


def test_it_refuses_a_user_removed_from_the_workspace(owner, teammate):
    cookie = session_cookie(teammate)
    teammate.delete()

    async def scenario() -> tuple[bool, int | None]:
        socket = connect(cookie)
        return await socket.connect()

    assert async_to_sync(scenario)() == (False, 4403)
