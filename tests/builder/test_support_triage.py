"""The support-triage template: in every new workspace, and run end to end offline on the built-in provider."""

import json
from pathlib import Path

import pytest

from accounts.workspaces import create_workspace
from approvals.decisions import Choice, decide
from builder.demo import CATEGORIES, SUPPORT_TRIAGE
from builder.models import Workflow
from builder.starters import SUPPORT_TRIAGE_NAME
from builder.versions import run_version
from engine.models import CostEntry
from engine.providers.base import ChatRequest, Label
from engine.providers.builtin import BuiltinProvider
from engine.runs import Options
from tests.approvals.flows import asking
from tests.engine.running import node, statuses, wait_for
from tests.factories import UserFactory

TICKETS = json.loads((Path(__file__).parent.parent / "data" / "tickets.json").read_text())


def test_it_labels_the_demo_tickets_by_category_offline():
    labels = tuple(Label(label["name"], label["description"], tuple(label["examples"])) for label in CATEGORIES)
    provider = BuiltinProvider()

    right = 0
    for ticket in TICKETS:
        text = f"Subject: {ticket['subject']}\n\n{ticket['body']}"
        request = ChatRequest(model="builtin-extractive", messages=({"role": "user", "content": text},), labels=labels)
        right += provider.chat(request, timeout_s=5).data["label"] == ticket["category"]

    assert len(TICKETS) >= 60
    assert right / len(TICKETS) >= 0.8


@pytest.mark.django_db
def test_it_gives_every_new_workspace_the_template():
    workspace = create_workspace("Acme", owner=UserFactory())

    workflow = Workflow.objects.get(workspace=workspace, name=SUPPORT_TRIAGE_NAME)
    assert workflow.latest_version().graph == SUPPORT_TRIAGE


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("celery_worker")
def test_it_answers_a_routine_ticket_and_sends_a_refund_to_review(owner):
    workflow = Workflow.objects.get(workspace=create_workspace("Acme", owner=owner.user), name=SUPPORT_TRIAGE_NAME)
    version = workflow.latest_version()
    routine = {"subject": "Export empty", "body": "The CSV export downloads an empty file.", "customer": "Ann"}
    refund = {"subject": "Broken vase", "body": "The vase arrived broken. I want a refund.", "customer": "Bo"}

    answered = wait_for(run_version(version, routine, Options()))
    reviewed = run_version(version, refund, Options())
    request = asking(reviewed)
    decide(request, owner.user, Choice("edit_and_approve", {"reply": "Your refund is on its way."}))
    reviewed = wait_for(reviewed)

    assert answered.status == "succeeded"
    assert node(answered, "category").output["label"] == "technical"
    assert node(answered, "check").handle == "pass"
    assert answered.output["answer"].startswith(
        "Hello Ann, thank you for contacting us about \u201cExport empty\u201d."
    )
    assert statuses(answered)["review"] == "skipped"
    assert node(reviewed, "category").output["label"] == "refund"
    assert "category: 'refund' is in ['refund']" in node(reviewed, "check").output["reasons"]
    assert reviewed.output == {"answer": "Your refund is on its way."}
    billed = CostEntry.objects.filter(run=answered)
    assert sorted(billed.values_list("node_id", flat=True)) == ["category", "draft", "urgency"]
    assert all(entry.provider == "builtin" and entry.cost == 0 and entry.tokens_in > 0 for entry in billed)
