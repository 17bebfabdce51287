"""The secrets settings page in a real browser: htmx swaps, CSRF, values never in the page."""

from playwright.sync_api import Page, expect

from engine import secrets
from engine.models import WorkspaceSecret
from tests.browser.test_shell import open_as

VALUE = "sk-browser-6b2e9d0c7f"
ROTATED = "sk-browser-1a7c4e8b3d"


def test_an_owner_adds_rotates_and_deletes_a_secret_through_htmx(asgi_server, owner, page: Page, console_errors):
    open_as(page, asgi_server, "olivia", "/accounts/settings/")
    page.get_by_role("navigation", name="Settings").get_by_role("link", name="Secrets").click()
    page.get_by_label("Name").fill("CRM_KEY")
    page.get_by_label("Value", exact=True).fill(VALUE)
    with page.expect_response(lambda r: r.url.endswith("/accounts/settings/secrets/")) as added:
        page.get_by_role("button", name="Add secret").click()
    expect(page.locator('tr[data-secret="CRM_KEY"]')).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Saved the secret CRM_KEY")

    page.locator('tr[data-secret="CRM_KEY"] summary').click()
    page.get_by_label("New value").fill(ROTATED)
    with page.expect_response(lambda r: "/rotate/" in r.url) as rotated:
        page.get_by_role("button", name="Replace value").click()
    expect(page.get_by_role("status")).to_contain_text("Replaced the value of CRM_KEY")
    secret = WorkspaceSecret.objects.get(workspace=owner.workspace, name="CRM_KEY")
    assert secrets.decrypt(secret.value_encrypted) == ROTATED

    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_response(lambda r: "/delete/" in r.url) as deleted:
        page.get_by_role("button", name="Delete").click()
    expect(page.locator('tr[data-secret="CRM_KEY"]')).to_have_count(0)

    assert [added.value.status, rotated.value.status, deleted.value.status] == [200, 200, 200]
    assert VALUE not in page.content()
    assert ROTATED not in page.content()
    assert not WorkspaceSecret.objects.filter(workspace=owner.workspace).exists()
    assert console_errors == []
