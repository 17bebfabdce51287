"""Bearer-token authentication for the REST API (browser sessions use django-ninja's django_auth)."""

from typing import Any

from django.http import HttpRequest
from ninja.security import HttpBearer

from accounts import tokens


class TokenAuth(HttpBearer):
    openapi_description = "An API token from Settings → API tokens: `Authorization: Bearer sy_…`"

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        found = tokens.authenticate(token)
        if found is None:
            return None
        request.user = found.user
        request.api_token_prefix = found.prefix  # type: ignore[attr-defined]
        return found
