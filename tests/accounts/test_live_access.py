"""Open websockets lose their stream when their member, session or token loses access, and the Origin check
matches scheme, host and port. Through the real ASGI stack, the real consumers and the Redis channel layer."""

import json

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect as ws_connect

from accounts import tokens, workspaces
from accounts.models import Membership, Role
from config.asgi import application
from tests.accounts.test_consumers import session_cookie
from tests.factories import RunFactory
from tests.sockets import Socket

pytestmark = pytest.mark.django_db(transaction=True)

SITE = [(b"host", b"127.0.0.1:8000"), (b"origin", b"http://127.0.0.1:8000")]


def socket(path: str, headers: list[tuple[bytes, bytes]]) -> Socket:
    return Socket(application, path, headers=headers)


def as_browser(cookie: bytes) -> list[tuple[bytes, bytes]]:
    return [*SITE, (b"cookie", cookie)]


def as_program(secret: str) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", f"Bearer {secret}".encode())]


def cookie_of(browser: Client) -> str:
    browser.get("/workflows/")  # the middleware stores the current workspace in the session
    return f"{settings.SESSION_COOKIE_NAME}={browser.cookies[settings.SESSION_COOKIE_NAME].value}"


async def opened(communicator: Socket) -> dict:
    connected, code = await communicator.connect()
    assert connected, code
    return await communicator.receive_json_from(timeout=5)


async def closed_with(communicator: Socket) -> int:
    """The close code the server sent, skipping anything sent before it."""
    while True:
        message = await communicator.receive_output(timeout=5)
        if message["type"] == "websocket.close":
            return int(message["code"])


def test_it_closes_a_removed_members_workspace_socket(owner, teammate):
    cookie = session_cookie(teammate)

    async def scenario() -> tuple[dict, int]:
        communicator = socket("/ws/workspace/", as_browser(cookie))
        hello = await opened(communicator)
        await database_sync_to_async(workspaces.remove_member)(teammate, owner.user)
        return hello, await closed_with(communicator)

    assert async_to_sync(scenario)() == ({"type": "subscribed", "workspace": owner.workspace_id}, 4403)


def test_it_closes_a_removed_members_run_socket(owner, teammate):
    run = RunFactory(workspace=owner.workspace)
    cookie = session_cookie(teammate)

    async def scenario() -> int:
        communicator = socket(f"/ws/runs/{run.pk}/", as_browser(cookie))
        assert (await opened(communicator))["type"] == "hello"
        await database_sync_to_async(workspaces.remove_member)(teammate, owner.user)
        return await closed_with(communicator)

    assert async_to_sync(scenario)() == 4403


def test_it_keeps_the_socket_of_a_member_whose_role_changed_but_who_may_still_see(owner, teammate):
    cookie = session_cookie(teammate)

    async def scenario() -> bool:
        communicator = socket("/ws/workspace/", as_browser(cookie))
        await opened(communicator)
        await database_sync_to_async(workspaces.change_role)(teammate, Role.VIEWER, owner.user)
        still_open = await communicator.receive_nothing(timeout=0.5)
        await communicator.disconnect()
        return still_open

    assert async_to_sync(scenario)() is True


def test_it_closes_a_revoked_tokens_socket(owner):
    run = RunFactory(workspace=owner.workspace)
    issued = tokens.issue(owner.workspace, owner.user, "ci", ["runs:read"], None)

    async def scenario() -> int:
        communicator = socket(f"/ws/runs/{run.pk}/", as_program(issued.secret))
        assert (await opened(communicator))["type"] == "hello"
        assert await database_sync_to_async(tokens.revoke)(issued.token, owner.user)
        return await closed_with(communicator)

    assert async_to_sync(scenario)() == 4401


def test_it_leaves_other_tokens_sockets_open_when_one_is_revoked(owner):
    kept = tokens.issue(owner.workspace, owner.user, "kept", ["runs:read"], None)
    revoked = tokens.issue(owner.workspace, owner.user, "revoked", ["runs:read"], None)

    async def scenario() -> bool:
        communicator = socket("/ws/workspace/", as_program(kept.secret))
        await opened(communicator)
        await database_sync_to_async(tokens.revoke)(revoked.token, owner.user)
        still_open = await communicator.receive_nothing(timeout=0.5)
        await communicator.disconnect()
        return still_open

    assert async_to_sync(scenario)() is True


def test_it_closes_the_socket_of_a_session_that_signed_out(owner, login_as):
    browser = login_as(owner)
    cookie = cookie_of(browser).encode()
    elsewhere = session_cookie(owner)  # the same user signed in on another device stays connected

    async def scenario() -> tuple[int, bool]:
        signing_out = socket("/ws/workspace/", as_browser(cookie))
        other = socket("/ws/workspace/", as_browser(elsewhere))
        await opened(signing_out)
        await opened(other)
        await database_sync_to_async(browser.post_form)("/accounts/logout/")
        code = await closed_with(signing_out)
        other_open = await other.receive_nothing(timeout=0.5)
        await other.disconnect()
        return code, other_open

    assert async_to_sync(scenario)() == (4401, True)


def test_it_closes_a_deactivated_users_socket(owner):
    cookie = session_cookie(owner)

    def deactivate() -> None:
        user = User.objects.get(pk=owner.user_id)
        user.is_active = False
        user.save()

    async def scenario() -> int:
        communicator = socket("/ws/workspace/", as_browser(cookie))
        await opened(communicator)
        await database_sync_to_async(deactivate)()
        return await closed_with(communicator)

    assert async_to_sync(scenario)() == 4401


def test_it_rechecks_periodically_when_no_prompt_arrives(owner, teammate, settings):
    settings.WS_ACCESS_RECHECK_SECONDS = 0.2
    cookie = session_cookie(teammate)

    def remove_without_signals() -> None:
        # Raw SQL sends no signal, as a prompt the channel layer dropped would not arrive.
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM accounts_membership WHERE id = %s", [teammate.pk])

    async def scenario() -> int:
        communicator = socket("/ws/workspace/", as_browser(cookie))
        await opened(communicator)
        await database_sync_to_async(remove_without_signals)()
        return await closed_with(communicator)

    assert async_to_sync(scenario)() == 4403
    assert not Membership.objects.filter(pk=teammate.pk).exists()


def test_it_refuses_a_token_without_the_sockets_scope(owner):
    issued = tokens.issue(owner.workspace, owner.user, "ci", ["knowledge:read"], None)

    async def scenario() -> tuple[bool, int | None]:
        return await socket("/ws/workspace/", as_program(issued.secret)).connect()

    assert async_to_sync(scenario)() == (False, 4403)


@pytest.mark.parametrize(
    "origin",
    [
        b"http://127.0.0.1:1",  # the same host on another port
        b"https://127.0.0.1:8000",  # another scheme
        b"http://localhost:8000",  # an allowed host, but not the one the socket was opened on
        b"http://127.0.0.1:8000.evil.example",
        b"null",
    ],
)
def test_it_refuses_an_origin_that_differs_in_scheme_host_or_port(owner, origin):
    cookie = session_cookie(owner)
    headers = [(b"host", b"127.0.0.1:8000"), (b"origin", origin), (b"cookie", cookie)]

    async def scenario() -> bool:
        connected, _ = await socket("/ws/workspace/", headers).connect()
        return connected

    assert async_to_sync(scenario)() is False


def test_it_accepts_a_trusted_origin(owner, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://app.example.com", "https://*.example.org"]
    cookie = session_cookie(owner)

    async def scenario(origin: bytes) -> bool:
        headers = [(b"host", b"127.0.0.1:8000"), (b"origin", origin), (b"cookie", cookie)]
        communicator = socket("/ws/workspace/", headers)
        connected, _ = await communicator.connect()
        if connected:
            await communicator.disconnect()
        return connected

    assert async_to_sync(scenario)(b"https://app.example.com") is True
    assert async_to_sync(scenario)(b"https://eu.example.org") is True
    assert async_to_sync(scenario)(b"https://app.example.com:8443") is False
    assert async_to_sync(scenario)(b"http://app.example.com") is False


def test_it_judges_a_cookie_with_a_bearer_token_as_a_browser(owner):
    run = RunFactory(workspace=owner.workspace)
    cookie = session_cookie(owner)
    secret = tokens.issue(owner.workspace, owner.user, "ci", ["runs:read"], None).secret
    bearer = (b"authorization", f"Bearer {secret}".encode())
    host = (b"host", b"127.0.0.1:8000")

    async def scenario(headers: list[tuple[bytes, bytes]]) -> bool:
        communicator = socket(f"/ws/runs/{run.pk}/", headers)
        connected, _ = await communicator.connect()
        if connected:
            await communicator.disconnect()
        return connected

    assert async_to_sync(scenario)([host, (b"cookie", cookie), bearer]) is False
    assert async_to_sync(scenario)([host, (b"origin", b"http://127.0.0.1:1"), (b"cookie", cookie), bearer]) is False
    assert async_to_sync(scenario)([host, bearer]) is True  # a program: no cookie, no Origin


def test_it_closes_a_removed_members_socket_through_the_real_server(asgi_server, owner, teammate, login_as):
    cookie = cookie_of(login_as(teammate))
    url = asgi_server.replace("http://", "ws://") + "/ws/workspace/"
    with ws_connect(url, additional_headers={"Cookie": cookie, "Origin": asgi_server}) as live:
        assert json.loads(live.recv(timeout=5)) == {"type": "subscribed", "workspace": owner.workspace_id}
        workspaces.remove_member(teammate, owner.user)
        with pytest.raises(ConnectionClosed) as closed:
            live.recv(timeout=5)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4403


def test_it_refuses_another_ports_origin_through_the_real_server(asgi_server, owner, login_as):
    cookie = cookie_of(login_as(owner))
    url = asgi_server.replace("http://", "ws://") + "/ws/workspace/"
    with pytest.raises(InvalidStatus) as refused:
        ws_connect(url, additional_headers={"Cookie": cookie, "Origin": "http://127.0.0.1:1"})
    assert refused.value.response.status_code == 403
    with ws_connect(url, additional_headers={"Cookie": cookie, "Origin": asgi_server}) as live:
        assert json.loads(live.recv(timeout=5))["type"] == "subscribed"
