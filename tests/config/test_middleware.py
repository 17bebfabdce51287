"""CSP and CommonMiddleware on the event loop (config/middleware.py): through the production ASGI stack, where
they run differently from Django's test client."""

import httpx
import pytest
from django.conf import settings

from accounts import tokens
from tests.conftest import signed_in


@pytest.fixture
def http(asgi_server):
    with httpx.Client(base_url=asgi_server, trust_env=False, timeout=10) as client:
        yield client


@pytest.mark.parametrize("path", ["/api/v1/workspaces", "/accounts/login/"])
def test_every_answer_keeps_its_security_headers(owner, http, path):
    secret = tokens.issue(owner.workspace, owner.user, "ci", ["workspace:read"], None).secret

    response = http.get(path, headers={"Authorization": f"Bearer {secret}"})

    assert response.status_code == 200
    policy = response.headers["content-security-policy"]
    assert ("script-src 'self'" in policy, "frame-ancestors 'none'" in policy) == (True, True)
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_a_page_still_adds_its_trailing_slash(http):
    response = http.get("/accounts/login")

    assert response.status_code == 301
    assert response.headers["location"] == "/accounts/login/"


def test_a_session_still_signs_in_and_its_api_writes_need_their_csrf_token(owner, http):
    http.cookies.set(settings.SESSION_COOKIE_NAME, signed_in(owner).cookies[settings.SESSION_COOKIE_NAME].value)

    page = http.get("/accounts/settings/")
    write = http.post("/api/v1/workflows", json={"name": "Second"})

    assert page.status_code == 200
    assert (write.status_code, "CSRF" in write.text) == (403, True)
