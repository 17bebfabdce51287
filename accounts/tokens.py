"""API tokens: issuing, checking and revoking them, scope checks, and the per-token trigger rate.

A token reads `sy_<prefix>_<secret>`. The prefix finds the row; the SHA-256 of the whole
token is compared in constant time. Tokens are 190 random bits, so a fast hash is enough.
"""

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.utils import timezone

from accounts import live_access, ratelimit
from accounts.audit import record
from accounts.models import ApiToken, Scope, Workspace

LAST_USED_EVERY = timedelta(minutes=1)

# The token of a prefix with its user and workspace (None if there is none): an operation may read it its own
# way, with what it needs next in the same query (the API trigger: builder/trigger_reads.py).
Read = Callable[[str], ApiToken | None]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Issued:
    token: ApiToken
    secret: str  # shown to the user once; never stored


def issue(workspace: Workspace, user: User, name: str, scopes: list[str], expires_at: datetime | None) -> Issued:
    unknown = set(scopes) - set(Scope.values)
    if unknown:
        raise ValueError(f"unknown scopes: {', '.join(sorted(unknown))}")
    prefix = secrets.token_hex(4)
    secret = f"sy_{prefix}_{secrets.token_urlsafe(24)}"
    token = ApiToken.objects.create(
        workspace=workspace,
        user=user,
        name=name,
        prefix=prefix,
        digest=_digest(secret),
        scopes=sorted(scopes),
        expires_at=expires_at,
    )
    record(user, "token.created", workspace=workspace, target=token, scopes=token.scopes)
    return Issued(token=token, secret=secret)


def revoke(token: ApiToken, by: User) -> bool:
    revoked = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    if revoked:
        record(by, "token.revoked", workspace=token.workspace, target=token)
        live_access.token_revoked(token.pk)
    return bool(revoked)


def authenticate(raw: str, read: Read | None = None) -> ApiToken | None:
    """The live token for `raw`, with its user restricted to the token's workspace and scopes.

    `read` reads the token of a prefix instead of the ORM, with what an operation needs next.
    """
    parts = raw.strip().split("_")
    if len(parts) < 3 or parts[0] != "sy":
        return None
    token = (read or _read)(parts[1])
    if token is None or not hmac.compare_digest(token.digest, _digest(raw.strip())):
        return None
    now = timezone.now()
    if (
        token.revoked_at is not None
        or (token.expires_at is not None and token.expires_at <= now)
        or not token.user.is_active
    ):
        return None
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_EVERY:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    # accounts.permissions reads this: the token's user sees only the token's workspace.
    token.user.token_workspace_id = token.workspace_id  # type: ignore[attr-defined]
    token.user.token_scopes = frozenset(token.scopes)  # type: ignore[attr-defined]
    return token


def _read(prefix: str) -> ApiToken | None:
    return ApiToken.objects.select_related("user", "workspace").filter(prefix=prefix).first()


def check_scope(token: ApiToken, declared: str | None) -> None:
    """Refuse `token` unless the operation or socket declared a scope the token carries.

    `declared` is a Scope value, "session-only", or None for a route that declared nothing:
    scopes deny by default, so a forgotten declaration refuses tokens rather than admitting all.
    """
    if declared is None:
        raise PermissionDenied("This operation declares no token scope, so API tokens are refused here")
    if declared not in Scope.values:
        raise PermissionDenied("API tokens are refused here: sign in with a browser")
    if declared not in token.scopes:
        raise PermissionDenied(f"This API token lacks the {declared} scope")


def is_live(token_id: int) -> bool:
    """Whether the token still works: not revoked, not expired, its user still active. Live sockets re-ask this."""
    return ApiToken.objects.filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()),
        pk=token_id,
        revoked_at__isnull=True,
        user__is_active=True,
    ).exists()


def count_trigger(request: Any) -> None:
    """Per-token limit on starting runs (API_TOKEN_TRIGGERS_PER_MINUTE); sessions are not limited here."""
    # The random prefix, not the row id: ids repeat after a database is recreated, cache keys survive.
    prefix = getattr(request, "api_token_prefix", None)
    if prefix is not None:
        count_token_trigger(prefix)


def count_token_trigger(prefix: str) -> None:
    """One run started with the token of this prefix; RateLimited past API_TOKEN_TRIGGERS_PER_MINUTE."""
    ratelimit.hit(f"token:{prefix}", settings.API_TOKEN_TRIGGERS_PER_MINUTE, "with this token")
