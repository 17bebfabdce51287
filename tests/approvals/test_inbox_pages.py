"""The inbox pages: who sees and decides what, model output shown as text, the diff, history, emails."""

import pytest
from django.core import mail

from accounts.models import Role
from approvals.models import NotificationSetting, Status
from approvals.notifications import email_assignees
from tests.approvals.flows import TICKET, asking, start, triage
from tests.engine.running import wait_for
from tests.factories import MembershipFactory, UserFactory

pytestmark = [pytest.mark.usefixtures("celery_worker"), pytest.mark.django_db(transaction=True)]
XSS = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">'


def form_post(client, url, data):
    return client.post(url, {**data, "csrfmiddlewaretoken": client.csrf_token()})


def test_it_lets_owner_decide_and_refuses_teammate_and_outsider(owner, teammate, outsider, login_as):
    run = start(owner.workspace, triage())
    approval = asking(run)
    url = f"/inbox/{approval.pk}/decide/"

    assert login_as(outsider).get(f"/inbox/{approval.pk}/").status_code == 404
    assert form_post(login_as(outsider), url, {"decision": "approve"}).status_code == 404
    seen = login_as(teammate).get(f"/inbox/{approval.pk}/")
    assert seen.status_code == 200
    assert b"Your role may not decide approvals" in seen.content
    assert form_post(login_as(teammate), url, {"decision": "approve"}).status_code == 403
    assert login_as(owner).post(url, {"decision": "approve"}).status_code == 403  # no CSRF token

    edited = "Hello Olivia, the refund is on its way."
    response = form_post(login_as(owner), url, {"decision": "approve", "value__reply": edited})
    assert response.status_code == 302
    assert wait_for(run).output == {"answer": edited}
    approval.refresh_from_db()
    assert approval.decision == "edit_and_approve"


def test_it_shows_the_context_and_tells_the_second_reviewer_who_decided(owner, login_as, workspace):
    rita = MembershipFactory(workspace=workspace, user=UserFactory(username="rita"), role=Role.REVIEWER)
    run = start(owner.workspace, triage())
    approval = asking(run)
    page = login_as(rita).get("/inbox/").content.decode()
    assert f'id="approval-{approval.pk}"' in page
    card = login_as(rita).get(f"/inbox/{approval.pk}/").content.decode()
    for shown in ("I was charged twice", "billing", "confidence 0.41", "mentions a refund", "Refund policy", "0.830"):
        assert shown in card
    assert f"version {approval.version_number}" in card

    form_post(login_as(owner), f"/inbox/{approval.pk}/decide/", {"decision": "reject", "comment": "No"})
    late = form_post(login_as(rita), f"/inbox/{approval.pk}/decide/", {"decision": "approve"})
    assert late.status_code == 409
    assert "Already decided by olivia (reject)" in late.content.decode()
    wait_for(run)


def test_it_requires_a_comment_to_reject_in_the_form(owner, login_as):
    approval = asking(start(owner.workspace, triage()))
    response = form_post(login_as(owner), f"/inbox/{approval.pk}/decide/", {"decision": "reject", "comment": " "})
    assert response.status_code == 422
    assert "comment: Say why you reject it" in response.content.decode()
    approval.refresh_from_db()
    assert approval.status == Status.PENDING


def test_it_shows_model_output_as_text(owner, login_as):
    hostile = {**TICKET, "body": XSS, "classification": {"label": XSS, "confidence": 0.2, "reasons": [XSS]}}
    hostile["sources"] = [{"title": XSS, "score": 0.5, "url": "javascript:alert(1)", "text": XSS}]
    approval = asking(start(owner.workspace, triage(), input=hostile))
    page = login_as(owner).get(f"/inbox/{approval.pk}/").content.decode()
    assert "<script>window.__xss" not in page
    assert "<img src=x" not in page
    assert "&lt;script&gt;window.__xss = 1&lt;/script&gt;" in page
    assert "javascript:alert" not in page


def test_it_diffs_the_draft_against_the_edit(owner, login_as):
    approval = asking(start(owner.workspace, triage()))
    client = login_as(owner)
    response = client.post(
        f"/inbox/{approval.pk}/diff/?field=reply",
        {"value__reply": "Hello, we refunded <b>everything</b>."},
        headers={"X-CSRFToken": client.csrf_token()},
    )
    body = response.content.decode()
    assert "<ins>&lt;b&gt;everything&lt;/b&gt;.</ins>" in body
    assert "<del>Refund for order 1042.</del>" in body
    bad = client.post(f"/inbox/{approval.pk}/diff/?field=nope", {}, headers={"X-CSRFToken": client.csrf_token()})
    assert bad.status_code == 422


def test_it_keeps_a_history_of_decided_items_with_filters(owner, login_as):
    first, second = start(owner.workspace, triage()), start(owner.workspace, triage())
    client = login_as(owner)
    form_post(client, f"/inbox/{asking(first).pk}/decide/", {"decision": "approve"})
    form_post(client, f"/inbox/{asking(second).pk}/decide/", {"decision": "escalate"})
    wait_for(first), wait_for(second)
    assert client.get("/inbox/history/").content.decode().count("data-approval-id") == 2
    escalated = client.get("/inbox/history/?decision=escalate").content.decode()
    assert escalated.count("data-approval-id") == 1
    assert client.get("/inbox/history/?since=2030-01-02&until=2030-01-01").status_code == 422


def test_it_emails_assignees_unless_they_switched_it_off(owner, login_as, workspace, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    rita = MembershipFactory(workspace=workspace, user=UserFactory(username="rita"), role=Role.REVIEWER)
    MembershipFactory(workspace=workspace, user=UserFactory(username="vic"), role=Role.VIEWER)
    approval = asking(start(owner.workspace, triage(assignees={"roles": ["reviewer", "owner"]})))

    assert email_assignees(approval) == 2
    assert sorted(message.to[0] for message in mail.outbox) == ["olivia@example.com", "rita@example.com"]
    assert mail.outbox[0].subject == "Review needed: Check the reply to Refund for order 1042"
    assert f"/inbox/{approval.pk}/" in mail.outbox[0].body

    client = login_as(rita)
    assert form_post(client, "/inbox/notifications/", {}).status_code == 302
    assert NotificationSetting.objects.get(user=rita.user).email_on_approval is False
    mail.outbox.clear()
    assert email_assignees(approval) == 1
    assert [message.to[0] for message in mail.outbox] == ["olivia@example.com"]
