from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from playwright.sync_api import Page, expect

from accounts.models import Membership, Role
from tests.factories import PASSWORD


def sign_in(page: Page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def open_as(page: Page, base_url: str, username: str, path: str) -> None:
    """The page at `path`, signed in as `username`: where sign_in and a goto to `path` lead, without the
    sign-in form's two page loads (the form itself is tested here, with sign_in)."""
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    session = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies(
        [
            {
                "name": session.key,
                "value": session.value,
                "url": base_url,
                "httpOnly": settings.SESSION_COOKIE_HTTPONLY,
                "secure": settings.SESSION_COOKIE_SECURE,
                "sameSite": "Lax",
            }
        ]
    )
    page.goto(f"{base_url}{path}")


def test_it_signs_in_and_shows_the_navigation(asgi_server, owner, page: Page, console_errors):
    sign_in(page, asgi_server, "olivia")
    nav = page.get_by_role("navigation", name="Main")
    for section in ["Workflows", "Runs", "Inbox", "Knowledge", "Costs", "Settings"]:
        expect(nav.get_by_role("link", name=section)).to_be_visible()
    expect(nav.get_by_role("link", name="Workflows")).to_have_attribute("aria-current", "page")
    expect(page.get_by_text("Support", exact=True).first).to_be_visible()
    nav.get_by_role("link", name="Runs").click()
    expect(page.get_by_role("heading", name="Runs", exact=True)).to_be_visible()
    assert page.evaluate("typeof window.htmx") == "object"
    assert console_errors == []


def test_an_owner_changes_a_role_through_htmx_with_csrf(asgi_server, owner, teammate, page: Page, console_errors):
    open_as(page, asgi_server, "olivia", "/accounts/settings/")
    with page.expect_response(lambda r: "/role/" in r.url) as answer:
        page.get_by_label("Role of ted").select_option("reviewer")
    assert answer.value.status == 200
    expect(page.locator(f"#member-{teammate.pk} select")).to_have_value("reviewer")
    assert Membership.objects.get(pk=teammate.pk).role == Role.REVIEWER
    assert console_errors == []


def test_it_signs_out(asgi_server, owner, page: Page):
    sign_in(page, asgi_server, "olivia")
    page.locator(".user-menu summary").click()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in to Switchyard")).to_be_visible()
    page.goto(f"{asgi_server}/workflows/")
    expect(page).to_have_url(f"{asgi_server}/accounts/login/?next=/workflows/")
