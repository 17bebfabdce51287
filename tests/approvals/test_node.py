"""The approval node, in-process: it parks, times out through the reaper, and resumes once per decision."""

from datetime import timedelta

import pytest
from django.utils import timezone

from approvals.models import ApprovalRequest, Status
from engine import reaper
from engine.models import NodeRun, RunEvent
from engine.runs import cancel_run
from tests.approvals.flows import TICKET, asking, start, triage
from tests.engine.graphs import TRIGGER, edge, graph, node
from tests.engine.running import history, statuses, wait_for

pytestmark = pytest.mark.usefixtures("in_process")


def decide(login_as, member, approval, **body):
    return login_as(member).post_json(f"/api/v1/approvals/{approval.pk}/decide", body)


def test_it_parks_the_run_until_approved_then_replies_with_the_draft(owner, login_as):
    run = start(owner.workspace, triage())
    approval = asking(run)
    assert wait_for(run, {"waiting"}).status == "waiting"
    assert approval.title == "Check the reply to Refund for order 1042"
    assert approval.fields[0]["value"] == "Hello, we refunded Refund for order 1042."

    assert decide(login_as, owner, approval, decision="approve").status_code == 200

    run = wait_for(run)
    assert run.status == "succeeded"
    assert run.output == {"answer": "Hello, we refunded Refund for order 1042."}
    assert history(run, "review") == ["pending", "running", "waiting", "running", "succeeded"]
    output = NodeRun.objects.get(run=run, node_id="review").output
    assert output["decision"] == "approve"
    assert output["reviewers"] == ["olivia"]
    assert statuses(run)["refused"] == "skipped"


def test_it_sends_the_edited_reply_downstream(owner, login_as):
    run = start(owner.workspace, triage())
    approval = asking(run)
    edited = "Hello, your refund of the double charge is on its way."
    response = decide(login_as, owner, approval, decision="edit_and_approve", values={"reply": edited})
    assert response.status_code == 200
    assert response.json()["values"] == {"reply": edited}
    run = wait_for(run)
    assert run.output == {"answer": edited}
    assert NodeRun.objects.get(run=run, node_id="review").output["decision"] == "edit_and_approve"


@pytest.mark.parametrize(
    ("decision", "comment", "taken", "reason"),
    [
        ("reject", "Wrong order number", "refused", "Rejected: Wrong order number"),
        ("escalate", "", "upward", "Escalated by olivia"),
    ],
)
def test_it_takes_the_handle_of_each_decision(owner, login_as, decision, comment, taken, reason):
    run = start(owner.workspace, triage())
    approval = asking(run)
    assert decide(login_as, owner, approval, decision=decision, comment=comment).status_code == 200
    run = wait_for(run)
    assert statuses(run)[taken] == "succeeded"
    assert statuses(run)["answer"] == "skipped"
    assert run.escalation_reason == reason


def test_it_never_skips_an_approval_inside_a_branch(owner, login_as):
    branchy = graph(
        TRIGGER,
        node("route", "condition", expression="'refund' in (input.body | lower)"),
        node("draft", "transform", fields={"text": "Refund approved."}),
        node("review", "approval", fields=[{"name": "reply", "value": "{{ nodes.draft.text }}"}]),
        node("answer", "reply", answer="{{ nodes.review.values.reply }}"),
        node("auto", "reply", answer="Automatic answer"),
        edges=[
            edge("start", "route"),
            edge("route", "draft", "true"),
            edge("draft", "review"),
            edge("review", "answer", "approved"),
            edge("route", "auto", "false"),
        ],
    )
    run = start(owner.workspace, branchy)
    approval = asking(run)
    # In-process, start() returned once the run had gone as far as it could: a wrongly
    # scheduled reply would have run by now.
    assert statuses(run)["answer"] == "pending"
    assert run.output is None
    decide(login_as, owner, approval, decision="approve")
    assert wait_for(run).output == {"answer": "Refund approved."}


def test_it_applies_the_timeout_action_through_the_reaper(owner):
    run = start(owner.workspace, triage(decide_within_s=7200, timeout_action="escalate"))
    approval = asking(run)
    # Two hours pass: far beyond Celery countdowns, so only the reaper can wake the node.
    past = timezone.now() - timedelta(seconds=1)
    ApprovalRequest.objects.filter(pk=approval.pk).update(deadline=past)
    NodeRun.objects.filter(pk=approval.node_run_id).update(wake_at=past, dispatched_at=past - timedelta(hours=2))
    assert reaper.reap()["dispatched"] == 1

    run = wait_for(run)
    approval.refresh_from_db()
    assert approval.status == Status.TIMED_OUT
    assert approval.decided_by_label == "system"
    assert approval.decision == "escalate"
    assert statuses(run)["upward"] == "succeeded"
    assert NodeRun.objects.get(run=run, node_id="review").output["timed_out"] is True


def test_it_waits_for_n_of_m_approvals(owner, login_as, workspace):
    from accounts.models import Role
    from tests.factories import MembershipFactory, UserFactory

    rita = MembershipFactory(workspace=workspace, user=UserFactory(username="rita"), role=Role.REVIEWER)
    run = start(owner.workspace, triage(required_approvals=2))
    approval = asking(run)
    assert decide(login_as, owner, approval, decision="approve").json()["status"] == "pending"
    again = decide(login_as, owner, approval, decision="approve")
    assert again.status_code == 409
    assert "already voted" in again.json()["error"]["message"]
    assert wait_for(run, {"waiting"}).status == "waiting"

    assert decide(login_as, rita, approval, decision="approve").json()["status"] == "approved"
    run = wait_for(run)
    assert run.status == "succeeded"
    assert NodeRun.objects.get(run=run, node_id="review").output["reviewers"] == ["olivia", "rita"]


def test_it_refuses_a_decision_after_the_run_was_cancelled(owner, login_as):
    run = start(owner.workspace, triage())
    approval = asking(run)
    cancel_run(run)
    response = decide(login_as, owner, approval, decision="approve")
    assert response.status_code == 409
    approval.refresh_from_db()
    assert approval.status == Status.PENDING
    assert not RunEvent.objects.filter(run=run, type="node.resumed").exists()


def test_it_raises_one_request_with_the_ticket_context(owner):
    run = start(owner.workspace, triage(), input=TICKET)
    approval = asking(run)
    assert ApprovalRequest.objects.filter(run=run).count() == 1
    assert [entry["label"] for entry in approval.context] == ["Ticket", "Classification", "Sources"]
    assert approval.context[1]["value"]["confidence"] == 0.41
    assert set(approval.assignees.values_list("role", flat=True)) == {"owner", "reviewer"}
