"""Deciding over the API: who may, what a decision must hold, one winner of two, and the audit trail."""

import threading

import pytest
from django.db import connection

from accounts.models import AuditEntry, Role
from approvals.models import ApprovalRequest, Status
from engine.models import RunEvent
from tests.approvals.flows import asking, review, start, triage
from tests.engine.graphs import TRIGGER, edge, node
from tests.engine.graphs import graph as flow_graph
from tests.engine.running import statuses, wait_for
from tests.factories import MembershipFactory, UserFactory

pytestmark = [pytest.mark.usefixtures("in_process"), pytest.mark.django_db(transaction=True)]


@pytest.fixture
def reviewer(workspace):
    return MembershipFactory(workspace=workspace, user=UserFactory(username="rita"), role=Role.REVIEWER)


def decide(client, approval, **body):
    return client.post_json(f"/api/v1/approvals/{approval.pk}/decide", body)


def test_it_lets_only_assignees_decide(owner, teammate, outsider, reviewer, login_as):
    run = start(owner.workspace, triage(assignees={"users": [reviewer.user_id]}))
    approval = asking(run)

    assert decide(login_as(outsider), approval, decision="approve").status_code == 404
    denied = decide(login_as(teammate), approval, decision="approve")
    assert denied.status_code == 403
    assert "may not decide" in denied.json()["error"]["message"]
    unassigned = decide(login_as(owner), approval, decision="approve")
    assert unassigned.status_code == 403
    assert "not assigned" in unassigned.json()["error"]["message"]
    assert login_as(owner).get(f"/api/v1/approvals/{approval.pk}").json()["can_decide"] is False

    assert decide(login_as(reviewer), approval, decision="approve").status_code == 200
    assert wait_for(run).status == "succeeded"


def test_it_lets_every_member_of_an_assigned_role_decide(owner, reviewer, login_as):
    run = start(owner.workspace, triage(assignees={"roles": ["reviewer"]}))
    approval = asking(run)
    assert decide(login_as(owner), approval, decision="approve").status_code == 403
    assert decide(login_as(reviewer), approval, decision="approve").status_code == 200
    assert wait_for(run).status == "succeeded"


def test_it_forbids_approving_ones_own_run_when_asked_to(owner, reviewer, login_as):
    run = start(owner.workspace, triage(no_self_approval=True), by=owner.user)
    approval = asking(run)
    refused = decide(login_as(owner), approval, decision="approve")
    assert refused.status_code == 403
    assert "started this run" in refused.json()["error"]["message"]
    assert decide(login_as(reviewer), approval, decision="approve").status_code == 200
    assert wait_for(run).status == "succeeded"


def test_it_gives_one_winner_a_409_and_one_continuation(owner, reviewer, login_as):
    run = start(owner.workspace, triage())
    approval = asking(run)
    clients = {"olivia": login_as(owner), "rita": login_as(reviewer)}
    tokens = {name: client.csrf_token() for name, client in clients.items()}
    barrier = threading.Barrier(2)
    answers: dict[str, tuple[int, dict]] = {}

    def decide_at_once(name: str) -> None:
        try:
            barrier.wait(5)
            response = clients[name].post(
                f"/api/v1/approvals/{approval.pk}/decide",
                {"decision": "edit_and_approve", "values": {"reply": f"Reply by {name}"}},
                content_type="application/json",
                headers={"X-CSRFToken": tokens[name]},
            )
            answers[name] = (response.status_code, response.json())
        finally:
            connection.close()

    threads = [threading.Thread(target=decide_at_once, args=(name,)) for name in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)

    codes = sorted(code for code, _ in answers.values())
    assert codes == [200, 409]
    winner = next(name for name, (code, _) in answers.items() if code == 200)
    loser_body = next(body for code, body in answers.values() if code == 409)
    assert loser_body["error"]["message"] == f"Already decided by {winner} (edit and approve)"
    run = wait_for(run)
    assert run.output == {"answer": f"Reply by {winner}"}
    assert RunEvent.objects.filter(run=run, type="node.resumed").count() == 1
    assert RunEvent.objects.filter(run=run, type="node.succeeded", node_id="answer").count() == 1


def test_it_names_the_field_of_a_bad_decision(owner, login_as):
    approval = asking(start(owner.workspace, triage()))
    client = login_as(owner)
    no_comment = decide(client, approval, decision="reject")
    assert no_comment.status_code == 422
    assert no_comment.json()["error"]["details"]["problems"][0]["path"] == "comment"
    unknown = decide(client, approval, decision="edit_and_approve", values={"subject": "x"})
    assert unknown.status_code == 422
    assert "values.subject" in unknown.json()["error"]["message"]
    bogus = decide(client, approval, decision="delete")
    assert bogus.status_code == 422
    assert "decision" in bogus.json()["error"]["message"]
    limited = asking(start(owner.workspace, triage(decisions=["approve", "reject"])))
    assert decide(client, limited, decision="escalate").status_code == 422
    approval.refresh_from_db()
    assert approval.status == Status.PENDING


def test_it_lists_pending_items_with_counts_and_filters(owner, reviewer, login_as):
    first = start(owner.workspace, triage(assignees={"users": [reviewer.user_id]}))
    mine = asking(first)
    for_role = asking(start(owner.workspace, triage(assignees={"roles": ["reviewer"]})))
    asking(start(owner.workspace, triage(assignees={"roles": ["owner"]})))
    client = login_as(reviewer)

    listing = client.get("/api/v1/approvals").json()
    assert listing["counts"] == {"all": 3, "me": 1, "roles": 1}
    assert [item["id"] for item in client.get("/api/v1/approvals?scope=me").json()["items"]] == [mine.pk]
    assert [item["id"] for item in client.get("/api/v1/approvals?scope=roles").json()["items"]] == [for_role.pk]
    assert client.get("/api/v1/approvals?scope=nobody").status_code == 422
    item = client.get(f"/api/v1/approvals/{mine.pk}").json()
    assert item["fields"][0]["value"].startswith("Hello, we refunded")
    assert item["can_decide"] is True

    decide(client, mine, decision="approve")
    wait_for(first)
    decided = client.get("/api/v1/approvals?state=decided").json()
    assert [entry["id"] for entry in decided["items"]] == [mine.pk]
    assert decided["counts"]["all"] == 2


def test_it_audits_every_view_claim_and_decision(owner, reviewer, login_as):
    run = start(owner.workspace, triage())
    approval = asking(run)
    client = login_as(reviewer)
    client.get(f"/api/v1/approvals/{approval.pk}")
    assert client.post_json(f"/api/v1/approvals/{approval.pk}/claim").json()["claimed_by"] == "rita"
    taken = login_as(owner).post_json(f"/api/v1/approvals/{approval.pk}/claim")
    assert taken.status_code == 409
    assert taken.json()["error"]["message"] == "Already claimed by rita"
    decide(client, approval, decision="reject", comment="Wrong tone")
    wait_for(run)
    entries = AuditEntry.objects.filter(target_type="approvals.approvalrequest", target_id=str(approval.pk))
    assert [(e.actor_label, e.action) for e in entries.order_by("id")] == [
        ("rita", "approval.viewed"),
        ("rita", "approval.claimed"),
        ("rita", "approval.decided"),
    ]
    assert entries.get(action="approval.decided").details["comment"] == "Wrong tone"


def test_it_runs_an_approval_with_no_editable_fields(owner, login_as):
    graph = flow_graph(
        TRIGGER,
        review(fields=[], decisions=["approve", "reject"]),
        node("answer", "reply", answer="ok"),
        edges=[edge("start", "review"), edge("review", "answer", "approved")],
    )
    run = start(owner.workspace, graph)
    approval = asking(run)
    assert decide(login_as(owner), approval, decision="approve").status_code == 200
    assert statuses(wait_for(run))["answer"] == "succeeded"
    assert ApprovalRequest.objects.get(pk=approval.pk).status == Status.APPROVED


def test_a_token_with_the_decide_scope_reads_the_inbox_of_its_workspace(owner):
    from django.test import Client

    from accounts import tokens

    reader = tokens.issue(owner.workspace, owner.user, "bot", ["approvals:decide"], None).secret
    other = tokens.issue(owner.workspace, owner.user, "bot2", ["runs:read"], None).secret
    listed = Client().get("/api/v1/approvals", headers={"Authorization": f"Bearer {reader}"})
    assert listed.status_code == 200
    assert "items" in listed.json()
    refused = Client().get("/api/v1/approvals", headers={"Authorization": f"Bearer {other}"})
    assert refused.status_code == 403
