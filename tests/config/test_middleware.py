"""The browser's middleware skipped for API requests with a Bearer token, and CSP and CommonMiddleware on the
event loop (config/middleware.py): through the production ASGI stack, where the difference lives."""

import httpx
import pytest
from django.conf import settings
from django.test import Client

from accounts import tokens
from tests.conftest import signed_in


def bearer(member, scope):
    return {"Authorization": f"Bearer {tokens.issue(member.workspace, member.user, 'ci', [scope], None).secret}"}


def session_cookie(member):
    return {settings.SESSION_COOKIE_NAME: signed_in(member).cookies[settings.SESSION_COOKIE_NAME].value}


@pytest.fixture
def http(asgi_server):
    with httpx.Client(base_url=asgi_server, trust_env=False, timeout=10) as client:
        yield client


def test_a_token_request_acts_as_the_token_and_sets_no_cookie(owner, http):
    response = http.get("/api/v1/workspaces", headers=bearer(owner, "workspace:read"))

    assert response.status_code == 200
    assert [w["id"] for w in response.json()] == [owner.workspace_id]
    assert "set-cookie" not in response.headers


def test_a_token_that_fails_is_not_rescued_by_the_session_sent_with_it(owner, http):
    http.cookies.update(session_cookie(owner))

    with_session = http.get("/api/v1/workspaces")
    bad_token = http.get("/api/v1/workspaces", headers={"Authorization": "Bearer sy_nope_nope"})

    assert with_session.status_code == 200
    assert bad_token.status_code == 401


def test_a_session_write_to_the_api_still_needs_its_csrf_token(owner, http):
    http.cookies.update(session_cookie(owner))

    response = http.post("/api/v1/workflows", json={"name": "Second"})

    assert response.status_code == 403
    assert "CSRF" in response.text


@pytest.mark.parametrize("path", ["/api/v1/workspaces", "/accounts/login/"])
def test_every_answer_keeps_its_security_headers(owner, http, path):
    response = http.get(path, headers=bearer(owner, "workspace:read"))

    assert response.status_code == 200
    assert "default-src" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_a_page_still_adds_its_trailing_slash(http):
    response = http.get("/accounts/login")

    assert response.status_code == 301
    assert response.headers["location"] == "/accounts/login/"


def test_a_page_still_signs_in_with_its_session(owner):
    page = signed_in(owner).get("/accounts/settings/")

    assert page.status_code == 200
    assert "csrf-token" in page.content.decode()
    assert Client().get("/accounts/settings/").status_code == 302
