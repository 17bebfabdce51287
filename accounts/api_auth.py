"""REST API authentication: API tokens limited by the scope each operation declares, then browser sessions.

Scopes deny by default. Every operation declares, under its router decorator, one of
`@token_scope(Scope.X)`, `@session_only` or `@public`; the API-wide TokenAuth() declares
nothing and so refuses every token (403) on an operation that forgot.
"""

from collections.abc import Callable
from typing import Any, TypeVar

from django.http import HttpRequest
from ninja.operation import Operation
from ninja.security import HttpBearer, django_auth
from ninja.utils import contribute_operation_callback

from accounts import tokens
from accounts.models import Scope

SESSION_ONLY = "session-only"
PUBLIC = "public"

F = TypeVar("F", bound=Callable[..., Any])


# How an operation reads its token along with what it needs next, in one query: request -> tokens.Read, or None
# for the plain read.
Reads = Callable[[HttpRequest], tokens.Read | None]


class TokenAuth(HttpBearer):
    """A valid token is accepted only with `scope` among its scopes; `None` or SESSION_ONLY refuse every token."""

    openapi_description = "An API token from Settings → API tokens: `Authorization: Bearer sy_…`"

    def __init__(self, scope: str | None = None, reads: Reads | None = None) -> None:
        super().__init__()
        self.scope = scope
        self.reads = reads

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        found = tokens.authenticate(token, self.reads(request) if self.reads else None)
        if found is None:
            return None  # the session may still authenticate the request
        tokens.check_scope(found, self.scope)
        request.user = found.user
        request.api_token_prefix = found.prefix  # type: ignore[attr-defined]
        return found


def _declare(declaration: str, auth: list[Any] | None) -> Callable[[F], F]:
    def declare(view: F) -> F:
        def contribute(operation: Operation) -> None:
            # auth_param as well as the callbacks: the API-wide auth replaces only an unset auth_param.
            operation.auth_param = auth
            operation.auth_callbacks = auth or []
            operation.openapi_extra = {**(operation.openapi_extra or {}), "x-token-scope": declaration}

        view.token_scope = declaration  # type: ignore[attr-defined]
        contribute_operation_callback(view, contribute)
        return view

    return declare


def token_scope(scope: Scope, reads: Reads | None = None) -> Callable[[F], F]:
    """Tokens need `scope` here; sessions pass as before. Goes under `@router.get(...)` and its kin.

    `reads` reads the token with what the operation needs next, in one query (the API trigger's workflow).
    """
    return _declare(scope.value, [TokenAuth(scope.value, reads), django_auth])


session_only = _declare(SESSION_ONLY, [TokenAuth(SESSION_ONLY), django_auth])
session_only.__doc__ = "Signed-in browsers only: every API token is refused (403)."

public = _declare(PUBLIC, None)
public.__doc__ = "No authentication at all (the operation checks its own secret, as inbound webhooks do)."


def declaration(operation: Operation) -> str | None:
    """What `operation` declared: a scope, SESSION_ONLY or PUBLIC; None when it declared nothing."""
    if not operation.auth_callbacks:
        return PUBLIC if getattr(operation.view_func, "token_scope", None) == PUBLIC else None
    found = [callback.scope for callback in operation.auth_callbacks if isinstance(callback, TokenAuth)]
    return found[0] if found else None
