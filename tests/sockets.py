"""The websocket test client, with time to connect on a loaded machine.

Channels' communicator gives a consumer one second to accept or refuse, and ours read the
database on a thread first (the session, the run, the member's access): on a busy 2-core
machine that took longer and failed the test, though nothing was wrong.
"""

from typing import Any

from channels.testing import WebsocketCommunicator

CONNECT_TIMEOUT_S = 30


class Socket(WebsocketCommunicator):
    async def connect(self, timeout: float = CONNECT_TIMEOUT_S) -> Any:
        return await super().connect(timeout)
