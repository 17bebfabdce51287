"""`manage.py move_header_credentials`: clear-text header credentials become workspace secrets."""

import copy
import io
import json

import pytest
from django.core.management import call_command

from builder.models import Workflow, WorkflowVersion
from engine import secrets
from engine.models import NodeRun, Run, WorkspaceSecret
from tests.engine.graphs import TRIGGER, chain, node
from tests.factories import RunFactory, WorkflowFactory, WorkflowVersionFactory

KEY = "sk-live-5e2b7c9d41"
OLD_KEY = "sk-live-0a9f3e7b12"
TOKEN = "tok-31c8d5f7aa"


def call(headers: dict[str, str]) -> dict[str, object]:
    return chain(TRIGGER, node("crm", "http_request", url="https://crm.example.com/api", headers=headers))


def move(*args: str) -> str:
    out = io.StringIO()
    call_command("move_header_credentials", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def workflow(owner):
    headers = {
        "Authorization": f"Bearer {KEY}",
        "X-Session-Token": TOKEN,
        "Accept": "application/json",
        "api-key": "{{ input.key }}",
    }
    workflow = WorkflowFactory(workspace=owner.workspace, name="Ticket sync", draft=call(headers))
    WorkflowVersionFactory(workflow=workflow, number=1, graph=call({**headers, "Authorization": f"Bearer {OLD_KEY}"}))
    WorkflowVersionFactory(workflow=workflow, number=2, graph=call(headers))
    run = RunFactory(workspace=owner.workspace, workflow_id=workflow.pk, graph=call(headers))
    NodeRun.objects.create(
        run=run, node_id="crm", node_type="http_request", input={"headers": headers}, error={"message": f"x {TOKEN}"}
    )
    return workflow


def stored() -> str:
    return json.dumps(
        [
            list(Workflow.objects.values_list("draft", flat=True)),
            list(WorkflowVersion.objects.values_list("graph", flat=True)),
            list(Run.objects.values_list("graph", flat=True)),
            list(NodeRun.objects.values_list("input", "error")),
        ]
    )


@pytest.mark.django_db
def test_it_reports_without_changing_anything_in_a_dry_run(workflow):
    before = stored()

    report = move("--dry-run")

    assert "Would move workflow" in report
    assert "header Authorization -> secrets.TICKET_SYNC_CRM_AUTHORIZATION in draft, v2" in report
    assert "header Authorization -> secrets.TICKET_SYNC_CRM_AUTHORIZATION_2 in v1" in report
    assert "header X-Session-Token -> secrets.TICKET_SYNC_CRM_X_SESSION_TOKEN in draft, v1, v2" in report
    assert "header api-key: draft: the value uses an expression" in report
    assert "Would move 3 credential(s); skipped 3." in report
    assert stored() == before
    assert not WorkspaceSecret.objects.exists()


@pytest.mark.django_db
def test_it_moves_header_credentials_into_secrets(workflow, owner):
    report = move()
    again = move()

    names = dict(WorkspaceSecret.objects.filter(workspace=owner.workspace).values_list("name", "value_encrypted"))
    assert {name: secrets.decrypt(value) for name, value in names.items()} == {
        "TICKET_SYNC_CRM_AUTHORIZATION": f"Bearer {KEY}",
        "TICKET_SYNC_CRM_AUTHORIZATION_2": f"Bearer {OLD_KEY}",
        "TICKET_SYNC_CRM_X_SESSION_TOKEN": TOKEN,
    }
    assert "Moved 3 credential(s); skipped 3." in report
    assert "Moved 0 credential(s); skipped 3." in again
    workflow.refresh_from_db()
    draft_headers = workflow.draft["nodes"][1]["params"]["headers"]
    assert draft_headers == {
        "Authorization": "{{ secrets.TICKET_SYNC_CRM_AUTHORIZATION }}",
        "X-Session-Token": "{{ secrets.TICKET_SYNC_CRM_X_SESSION_TOKEN }}",
        "Accept": "application/json",
        "api-key": "{{ input.key }}",
    }
    v1 = WorkflowVersion.objects.get(workflow=workflow, number=1).graph["nodes"][1]["params"]["headers"]
    assert v1["Authorization"] == "{{ secrets.TICKET_SYNC_CRM_AUTHORIZATION_2 }}"
    run = Run.objects.get(workflow_id=workflow.pk)
    assert run.graph["nodes"][1]["params"]["headers"] == draft_headers
    recorded = NodeRun.objects.get(run=run)
    assert recorded.input["headers"]["Authorization"] == "[secret TICKET_SYNC_CRM_AUTHORIZATION]"
    assert recorded.error == {"message": "x [secret TICKET_SYNC_CRM_X_SESSION_TOKEN]"}
    for value in (KEY, OLD_KEY, TOKEN):
        assert value not in stored()


@pytest.mark.django_db
def test_it_leaves_other_nodes_and_headers_alone(owner):
    graph = chain(TRIGGER, node("shape", "transform", fields={"Authorization": f"Bearer {KEY}"}))
    workflow = WorkflowFactory(workspace=owner.workspace, draft=copy.deepcopy(graph))

    report = move()

    workflow.refresh_from_db()
    assert workflow.draft == graph
    assert "Moved 0 credential(s); skipped 0." in report
