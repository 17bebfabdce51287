"""Django's middleware on the event loop (config/middleware.py): through the production ASGI stack, where it runs
differently from Django's test client, and with the names Django's deployment checks look for."""

import httpx
import pytest
from django.conf import settings
from django.core import checks

from accounts import tokens
from accounts.models import Membership
from tests.conftest import signed_in
from tests.factories import PASSWORD


@pytest.fixture
def http(asgi_server, settings):
    # The test server speaks plain HTTP, over which a client keeps a Secure cookie but never sends it back.
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    with httpx.Client(base_url=asgi_server, trust_env=False, timeout=10) as client:
        yield client


def signed_in_over(http: httpx.Client, member: Membership) -> None:
    http.cookies.set(settings.SESSION_COOKIE_NAME, signed_in(member).cookies[settings.SESSION_COOKIE_NAME].value)


def csrf_form(http: httpx.Client, **fields: str) -> dict[str, str]:
    """A form's fields with the CSRF token a page's cookie carries (the secret itself is accepted as the token)."""
    return {"csrfmiddlewaretoken": http.cookies[settings.CSRF_COOKIE_NAME], **fields}


@pytest.mark.parametrize("path", ["/api/v1/workspaces", "/accounts/login/"])
def test_every_answer_keeps_its_security_headers(owner, http, path):
    secret = tokens.issue(owner.workspace, owner.user, "ci", ["workspace:read"], None).secret

    response = http.get(path, headers={"Authorization": f"Bearer {secret}"})

    assert response.status_code == 200
    policy = response.headers["content-security-policy"]
    assert ("script-src 'self'" in policy, "frame-ancestors 'none'" in policy) == (True, True)
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"


def test_a_page_still_adds_its_trailing_slash(http):
    response = http.get("/accounts/login")

    assert response.status_code == 301
    assert response.headers["location"] == "/accounts/login/"


def test_a_session_still_signs_in_and_its_api_writes_need_their_csrf_token(owner, http):
    signed_in_over(http, owner)

    page = http.get("/accounts/settings/")
    write = http.post("/api/v1/workflows", json={"name": "Second"})

    assert page.status_code == 200
    assert (write.status_code, "CSRF" in write.text) == (403, True)


def test_a_token_call_without_a_cookie_varies_on_it_and_sets_none(owner, http):
    secret = tokens.issue(owner.workspace, owner.user, "ci", ["workspace:read"], None).secret

    response = http.get("/api/v1/workspaces", headers={"Authorization": f"Bearer {secret}"})

    assert response.status_code == 200
    assert "Cookie" in response.headers["vary"]
    assert "set-cookie" not in response.headers


def test_a_failing_token_with_a_session_cookie_keeps_the_sessions_access(owner, http):
    signed_in_over(http, owner)

    response = http.get("/api/v1/workspaces", headers={"Authorization": "Bearer sy_not-a-token"})

    assert response.status_code == 200
    assert [workspace["id"] for workspace in response.json()] == [owner.workspace_id]


def test_it_signs_in_through_the_form_and_refuses_a_form_without_its_token(owner, http):
    form = http.get("/accounts/login/")
    refused = http.post("/accounts/login/", data={"username": "olivia", "password": PASSWORD})
    accepted = http.post("/accounts/login/", data=csrf_form(http, username="olivia", password=PASSWORD))
    page = http.get("/accounts/settings/")

    assert (form.status_code, settings.CSRF_COOKIE_NAME in form.cookies) == (200, True)
    assert (refused.status_code, "CSRF verification failed" in refused.text) == (403, True)
    assert (accepted.status_code, accepted.headers["location"]) == (302, "/")
    assert settings.SESSION_COOKIE_NAME in accepted.cookies
    assert (page.status_code, owner.workspace.name in page.text) == (200, True)


def test_a_page_that_writes_the_session_and_a_message_keeps_both(owner, http):
    signed_in_over(http, owner)
    http.get("/accounts/settings/")  # the CSRF cookie

    created = http.post("/accounts/workspaces/", data=csrf_form(http, name="Second shop"))
    shown = http.get("/accounts/settings/")
    again = http.get("/accounts/settings/")

    assert (created.status_code, created.headers["location"]) == (302, "/accounts/settings/")
    assert "Created Second shop; you are its owner." in shown.text
    assert "<strong>Second shop</strong> · your role: Owner" in shown.text  # the workspace kept in the session
    assert "Created Second shop" not in again.text
    assert "<strong>Second shop</strong>" in again.text


def test_it_signs_out_and_forgets_the_session(owner, http):
    signed_in_over(http, owner)
    http.get("/accounts/settings/")

    out = http.post("/accounts/logout/", data=csrf_form(http))
    after = http.get("/accounts/settings/")

    assert out.status_code == 302
    assert (after.status_code, after.headers["location"]) == (302, "/accounts/login/?next=/accounts/settings/")


def test_deployment_checks_still_see_djangos_security_csrf_and_clickjacking_middleware(settings):
    settings.SECURE_SSL_REDIRECT = False  # the warnings these classes gate: W008 needs SecurityMiddleware
    settings.CSRF_COOKIE_SECURE = False  # W016 needs CsrfViewMiddleware

    found = {message.id for message in checks.run_checks(include_deployment_checks=True, tags=[checks.Tags.security])}

    assert {"security.W008", "security.W016"} <= found
    assert not {"security.W001", "security.W002", "security.W003"} & found
