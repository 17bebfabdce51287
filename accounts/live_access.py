"""Telling open websockets that their access changed: one channel-layer group per user, token and session.

A socket joins its user's, token's and session's groups when it connects. A change that may
take access away (a membership removed or its role changed, a user deactivated) prompts the
user's sockets to check again; a revoked token or a sign-out closes its sockets outright.
Prompts go out after the transaction commits, so a socket that checks again sees the change.
The channel layer may drop a prompt: consumers also check again periodically (accounts.consumers).
"""

import hashlib
import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

CHECK_AGAIN = "access.changed"
REVOKED = "access.revoked"

log = logging.getLogger(__name__)


def user_group(user_id: int) -> str:
    return f"access-user-{user_id}"


def token_group(token_id: int) -> str:
    return f"access-token-{token_id}"


def session_group(session_key: str) -> str:
    # A digest: the session key is a credential, and group names are Redis keys anyone with Redis access can list.
    return "access-session-" + hashlib.sha256(session_key.encode()).hexdigest()[:32]


def _send_after_commit(group: str, message: dict[str, Any]) -> None:
    def send() -> None:
        layer = get_channel_layer()
        if layer is None:
            return
        try:
            async_to_sync(layer.group_send)(group, message)
        except Exception as error:  # noqa: BLE001 (a lost prompt is caught by the periodic check)
            log.warning("could not prompt sockets to re-check access: %s", error)

    transaction.on_commit(send)


def user_changed(user_id: int) -> None:
    """The user's sockets check their membership, role, session and token again."""
    _send_after_commit(user_group(user_id), {"type": CHECK_AGAIN})


def token_revoked(token_id: int) -> None:
    _send_after_commit(token_group(token_id), {"type": REVOKED, "reason": "token revoked"})


def session_ended(session_key: str) -> None:
    _send_after_commit(session_group(session_key), {"type": REVOKED, "reason": "signed out"})
