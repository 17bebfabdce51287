"""Invitations in a real browser: the owner invites, the invitee is taken to it after signing in and accepts."""

from playwright.sync_api import Page, expect

from accounts.models import Membership, Role
from tests.browser.test_shell import open_as, sign_in


def test_it_invites_and_the_invitee_accepts_after_signing_in(asgi_server, owner, outsider, page: Page, console_errors):
    open_as(page, asgi_server, "olivia", "/accounts/settings/")
    page.get_by_label("Username or e-mail").fill("oscar")
    page.locator("#invite select[name=role]").select_option("reviewer")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_text("Invitation sent.")).to_be_visible()
    expect(page.locator("#invitations")).to_contain_text("oscar")
    assert not Membership.objects.filter(workspace=owner.workspace, user=outsider.user).exists()

    page.locator(".user-menu summary").click()
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, asgi_server, "oscar")
    expect(page).to_have_url(f"{asgi_server}/accounts/invitations/")
    offer = page.locator("#my-invitations tbody tr")
    expect(offer).to_contain_text("Support")
    offer.get_by_role("button", name="Accept").click()
    expect(page.get_by_text("You joined Support as reviewer.")).to_be_visible()
    assert Membership.objects.get(workspace=owner.workspace, user=outsider.user).role == Role.REVIEWER
    assert console_errors == []
