"""The trigger's path: a published graph validated once per process, its workspace checks on every start,
the answer built from what the start wrote rather than read back."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import tokens
from accounts.models import Role, Scope
from engine import workspace_secrets
from engine.models import NodeRun, Run, RunEvent
from tests.approvals.flows import triage
from tests.engine.graphs import TRIGGER, chain, node
from tests.factories import MembershipFactory, UserFactory, WorkflowFactory, WorkflowVersionFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("in_process")]

GRAPH = chain(TRIGGER, node("shape", "transform", fields={"ok": True}), node("answer", "reply", answer="done"))


def published(member, graph):
    flow = WorkflowFactory(workspace=member.workspace, name="Hook", draft=graph)
    WorkflowVersionFactory(workflow=flow, number=1, graph=graph)
    return flow


def trigger(member, flow):
    secret = tokens.issue(member.workspace, member.user, "ci", [Scope.RUNS_TRIGGER.value], None).secret
    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    with CaptureQueriesContext(connection) as queries:
        response = client.post(f"/api/v1/workflows/{flow.pk}/runs", {"input": {}}, content_type="application/json")
    return response, [q["sql"] for q in queries.captured_queries]


def sent(queries):
    """The statements sent, without the PREPAREs a connection's first use of a statement adds."""
    return [sql for sql in queries if not sql.startswith("PREPARE")]


def start_script(queries):
    """The start's query string: three prepared INSERTs."""
    return next(sql for sql in queries if sql.count("EXECUTE engine_") == 3)


def test_it_validates_a_published_version_once_per_process(owner):
    flow = published(owner, GRAPH)

    first, first_queries = trigger(owner, flow)
    second, second_queries = trigger(owner, flow)

    assert (first.status_code, second.status_code) == (202, 202)
    assert any("engine_workspacesecret" in sql for sql in first_queries)
    assert not any("engine_workspacesecret" in sql for sql in second_queries)


def test_it_checks_the_secrets_a_version_reads_on_every_start(owner, server):
    graph = chain(TRIGGER, node("call", "http_request", url=server.url, headers={"X-Key": "{{ secrets.CRM_KEY }}"}))
    flow = published(owner, graph)
    secret = workspace_secrets.create(owner.workspace_id, "CRM_KEY", "sk-test-0123456789", owner.user)

    started, _ = trigger(owner, flow)
    secret.delete()
    refused, _ = trigger(owner, flow)

    assert started.status_code == 202
    assert refused.status_code == 422
    problems = refused.json()["error"]["details"]["problems"]
    assert [(p["path"], p["code"]) for p in problems] == [("nodes.1.params.headers.X-Key", "unknown_secret")]


def test_it_validates_a_version_with_workspace_checks_once_and_checks_its_assignees_on_every_start(owner):
    reviewer = MembershipFactory(workspace=owner.workspace, user=UserFactory(username="rita"), role=Role.REVIEWER)
    flow = published(owner, triage(assignees={"users": [reviewer.user_id]}))

    first, first_queries = trigger(owner, flow)
    second, second_queries = trigger(owner, flow)
    reviewer.delete()
    refused, _ = trigger(owner, flow)

    assert (first.status_code, second.status_code) == (202, 202)
    # Validated in full once (the workspace's secret names read with it), then only the workspace's answers.
    assert any("engine_workspacesecret" in sql for sql in first_queries)
    assert not any("engine_workspacesecret" in sql for sql in second_queries)
    assert refused.status_code == 422
    problems = refused.json()["error"]["details"]["problems"]
    assert [(p["path"], p["code"]) for p in problems] == [("nodes.2.params.assignees.users.0", "not_in_workspace")]


def test_it_answers_with_the_run_it_wrote_without_reading_it_back(owner):
    flow = published(owner, GRAPH)

    response, queries = trigger(owner, flow)

    run = response.json()
    assert (response.status_code, run["status"], run["last_seq"]) == (202, "queued", 3)
    assert [(n["node_id"], n["status"]) for n in run["nodes"]] == [
        ("start", "succeeded"),
        ("shape", "pending"),
        ("answer", "pending"),
    ]
    # In-process, the first node runs within the call and reads what it needs; the answer reads no run status.
    assert not [sql for sql in queries if sql.startswith("SELECT") and '"engine_run"."status"' in sql]
    # The caller's role comes with the token, in the same prepared statement: no query of its own.
    assert not [sql for sql in sent(queries) if "accounts_membership" in sql]


def test_it_still_refuses_a_token_whose_member_may_not_start_runs(owner):
    viewer = MembershipFactory(workspace=owner.workspace, user=UserFactory(username="vera"), role=Role.VIEWER)
    flow = published(owner, GRAPH)

    response, _ = trigger(viewer, flow)

    assert response.status_code == 403
    assert "Your role (Viewer) may not edit here" in response.json()["error"]["message"]


def test_it_stores_the_start_in_one_round_trip(owner):
    flow = published(owner, GRAPH)

    response, queries = trigger(owner, flow)

    assert response.status_code == 202
    # The run, its nodes and its first events: three prepared INSERTs sent as one query string, in no
    # explicit transaction (the server runs the string as one); the first node then runs in process.
    before = queries[: queries.index(start_script(queries))]
    assert not [sql for sql in before if sql.startswith(("BEGIN", "INSERT", "SAVEPOINT"))]
    # The latest version's id came with the workflow and the caller's role; its graph is read on its first
    # start in this process only (the next test).
    (version_read,) = [sql for sql in before if sql.startswith('SELECT "builder_workflowversion"')]
    assert '"builder_workflowversion"."graph"' in version_read
    assert f'"builder_workflowversion"."id" = {flow.versions.get().pk}' in version_read
    run = Run.objects.get(pk=response.json()["id"])
    first = list(RunEvent.objects.filter(run=run, seq__lte=3).order_by("seq").values_list("type", "node_id"))
    # Its trigger done at the start (its output is the input, checked already), the node after it queued.
    assert first == [("run.queued", ""), ("node.succeeded", "start"), ("node.queued", "shape")]
    assert NodeRun.objects.get(run=run, node_id="shape").dispatched_at is not None


def test_it_reads_the_workflow_its_version_and_the_role_with_the_token(owner):
    flow = published(owner, GRAPH)

    first, first_queries = trigger(owner, flow)
    second, second_queries = trigger(owner, flow)

    assert (first.status_code, second.status_code) == (202, 202)
    first_reads = sent(first_queries[: first_queries.index(start_script(first_queries))])
    second_reads = sent(second_queries[: second_queries.index(start_script(second_queries))])
    # The token's prepared statement; on a version's first start in this process, the version's graph and the
    # secrets it may read: nothing else reads the workflow, its versions or the role.
    assert first_reads[0].startswith("EXECUTE engine_")
    assert [sql for sql in first_reads[1:] if "builder_workflow" in sql or "accounts_membership" in sql] == [
        next(sql for sql in first_reads if '"builder_workflowversion"."graph"' in sql)
    ]
    # A version never changes: its next start reads its graph no more.
    assert second_reads[0].startswith("EXECUTE engine_")
    assert not [sql for sql in second_reads[1:] if "builder_workflow" in sql or "accounts_membership" in sql]


def test_it_hides_another_workspaces_workflow_from_a_token(owner, outsider):
    flow = published(owner, GRAPH)

    response, _ = trigger(outsider, flow)

    assert response.status_code == 404
    assert not Run.objects.filter(workflow_id=flow.pk).exists()


def test_it_hides_an_archived_workflow_from_a_token(owner):
    flow = published(owner, GRAPH)
    flow.archived_at = timezone.now()
    flow.save()

    response, _ = trigger(owner, flow)

    assert response.status_code == 404


def test_it_answers_409_for_a_workflow_with_nothing_published(owner):
    flow = WorkflowFactory(workspace=owner.workspace, name="Unpublished", draft=GRAPH)

    response, _ = trigger(owner, flow)

    assert response.status_code == 409
    assert "no published version yet" in response.json()["error"]["message"]
