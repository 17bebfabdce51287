"""Sign-in throttling: ten wrong passwords lock an account, or an address, out of both sign-in pages."""

import re
from datetime import timedelta

import httpx
import time_machine
from axes.models import AccessAttempt
from django.core.management import call_command
from django.utils import timezone

from accounts.models import AuditEntry
from tests.factories import PASSWORD, UserFactory

LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/"
HOME = "203.0.113.7"


def sign_in(client, username: str, password: str, ip: str = HOME, url: str = LOGIN):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=ip)


def signed_in_user(client) -> str | None:
    return client.session.get("_auth_user_id")


def assert_locked_out(response) -> None:
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "900"
    page = response.content.decode()
    assert "Too many sign-in attempts" in page
    assert "Try again in 15 minutes" in page
    assert "Traceback" not in page


def test_it_locks_an_account_guessed_from_many_addresses(owner, client):
    for attempt in range(9):
        answer = sign_in(client, "olivia", f"guess-{attempt}", ip=f"198.51.100.{attempt}")
        assert answer.status_code == 200, attempt  # the form again, with its error
        assert "Please enter a correct username and password" in answer.content.decode()
    assert_locked_out(sign_in(client, "olivia", "guess-9", ip="198.51.100.9"))

    assert_locked_out(sign_in(client, "olivia", PASSWORD, ip="192.0.2.200"))
    assert signed_in_user(client) is None


def test_it_locks_an_address_that_tries_many_accounts(owner, client):
    for number in range(10):
        answer = sign_in(client, f"nobody{number}", "guess")
    assert_locked_out(answer)

    assert_locked_out(sign_in(client, "olivia", PASSWORD))
    assert signed_in_user(client) is None
    # The account itself is not locked: its owner signs in from elsewhere.
    assert sign_in(client, "olivia", PASSWORD, ip="192.0.2.200").status_code == 302
    assert signed_in_user(client) == str(owner.user.pk)


def test_it_locks_the_admin_sign_in_and_shares_the_count(db, client):
    admin = UserFactory(username="ada", is_staff=True, is_superuser=True)
    for attempt in range(5):
        assert sign_in(client, "ada", f"guess-{attempt}", url=ADMIN_LOGIN).status_code == 200
    for attempt in range(4):
        assert sign_in(client, "ada", f"guess-{attempt}", ip="198.51.100.1").status_code == 200
    assert_locked_out(sign_in(client, "ada", "guess-9", ip="198.51.100.2", url=ADMIN_LOGIN))

    assert_locked_out(sign_in(client, "ada", PASSWORD, ip="192.0.2.200", url=ADMIN_LOGIN))
    assert_locked_out(sign_in(client, "ada", PASSWORD, ip="192.0.2.201"))
    assert signed_in_user(client) is None
    assert admin.pk is not None


def test_it_forgets_an_accounts_failures_once_it_signs_in(owner, client):
    for attempt in range(9):
        assert sign_in(client, "olivia", f"guess-{attempt}").status_code == 200
    assert sign_in(client, "olivia", PASSWORD).status_code == 302
    client.post("/accounts/logout/")

    for attempt in range(9):
        assert sign_in(client, "olivia", f"again-{attempt}").status_code == 200
    assert sign_in(client, "olivia", PASSWORD).status_code == 302
    assert signed_in_user(client) == str(owner.user.pk)


def test_it_keeps_an_addresss_count_when_an_attacker_signs_in_to_their_own_account(owner, outsider, client):
    for attempt in range(9):
        assert sign_in(client, "olivia", f"guess-{attempt}").status_code == 200
    assert sign_in(client, "oscar", PASSWORD).status_code == 302
    client.post("/accounts/logout/")

    assert_locked_out(sign_in(client, "olivia", "guess-9"))
    assert_locked_out(sign_in(client, "olivia", PASSWORD, ip="192.0.2.200"))


def test_it_lets_the_account_in_again_after_the_cool_off(owner, client):
    for attempt in range(10):
        sign_in(client, "olivia", f"guess-{attempt}")
    assert_locked_out(sign_in(client, "olivia", PASSWORD))

    with time_machine.travel(timezone.now() + timedelta(minutes=14), tick=False):
        assert_locked_out(sign_in(client, "olivia", PASSWORD))
    # The refused attempt at minute 14 counted as a failure and started the 15 minutes again.
    with time_machine.travel(timezone.now() + timedelta(minutes=30), tick=False):
        assert sign_in(client, "olivia", PASSWORD).status_code == 302
    assert signed_in_user(client) == str(owner.user.pk)


def test_an_administrator_unlocks_an_account_with_a_command(owner, client):
    for attempt in range(10):
        sign_in(client, "olivia", f"guess-{attempt}", ip=f"198.51.100.{attempt}")
    assert_locked_out(sign_in(client, "olivia", PASSWORD, ip="192.0.2.200"))

    call_command("axes_reset_username", "olivia")

    assert sign_in(client, "olivia", PASSWORD, ip="192.0.2.200").status_code == 302


def test_it_audits_failures_and_lockouts_without_the_password(owner, client):
    for attempt in range(10):
        sign_in(client, "olivia", f"hunter2-{attempt}")
    sign_in(client, "olivia", PASSWORD)

    failures = AuditEntry.objects.filter(action="user.login_failed")
    assert failures.count() == 11  # the refused right password is a failed sign-in too
    assert {entry.details["ip_address"] for entry in failures} == {HOME}
    lockouts = list(AuditEntry.objects.filter(action="user.locked_out").order_by("id"))
    assert len(lockouts) == 2  # the tenth wrong password, then the refused right one
    assert lockouts[0].details == {"username": "olivia", "ip_address": HOME, "path": LOGIN}
    assert lockouts[0].actor is None

    stored = [str(entry.details) for entry in AuditEntry.objects.all()]
    stored += [attempt.post_data + attempt.get_data for attempt in AccessAttempt.objects.all()]
    assert not [text for text in stored if "hunter2" in text or PASSWORD in text]


def test_it_locks_out_through_the_production_asgi_stack(asgi_server, owner, settings):
    """uvicorn runs the async middleware chain, where axes calls the lockout page differently."""
    # httpx, unlike a browser, sends no Secure cookie to http://127.0.0.1.
    settings.CSRF_COOKIE_SECURE = settings.SESSION_COOKIE_SECURE = False
    with httpx.Client(base_url=asgi_server) as browser:

        def attempt(password: str) -> httpx.Response:
            form = browser.get(LOGIN).text
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)
            assert token is not None
            return browser.post(
                LOGIN, data={"csrfmiddlewaretoken": token.group(1), "username": "olivia", "password": password}
            )

        for number in range(9):
            assert attempt(f"guess-{number}").status_code == 200
        assert_locked_out(attempt("guess-9"))
        assert_locked_out(attempt(PASSWORD))
        assert "sessionid" not in browser.cookies
