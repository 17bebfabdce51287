"""A websocket frame that is not JSON, or nests too deep to parse, is ignored: the socket stays open and serving."""

import pytest
from asgiref.sync import async_to_sync

from tests.accounts.test_consumers import session_cookie
from tests.engine.test_consumers import burst, connect, receive_events
from tests.factories import RunFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("frame", ["[" * 100_000 + "]" * 100_000, "{not json"], ids=["deep", "not-json"])
def test_it_ignores_a_bad_frame_and_keeps_serving(owner, frame):
    run = RunFactory(workspace=owner.workspace)
    burst(run.pk, 2)
    cookie = session_cookie(owner)

    async def scenario() -> list[int]:
        socket = connect(cookie, run.pk)
        assert (await socket.connect())[0]
        await socket.receive_json_from(timeout=5)
        first = await receive_events(socket, 2)
        await socket.send_to(text_data=frame)
        await socket.send_json_to({"type": "resume", "after": 0})
        again = await receive_events(socket, 2)  # the consumer read the frame after the bad one
        await socket.disconnect()
        return first + again

    assert async_to_sync(scenario)() == [1, 2, 1, 2]
