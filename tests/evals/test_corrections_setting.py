"""The workflow's reviewer-corrections setting: which eval set takes corrections at once, over the API and on the
Quality tab (refusals naming the field, editors only, other workspaces kept out), and the migration that turned
the old per-set flags into it."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from accounts.models import Role, Scope
from evals import corrections, sets
from evals.models import CorrectionsSetting
from tests.engine.graphs import chain, node
from tests.evals.test_api import ALL, SCHEMA, token_client
from tests.factories import MembershipFactory, UserFactory, WorkflowFactory

URL = "/api/v1/workflows/{}/eval-corrections"


@pytest.fixture
def workflow(workspace):
    draft = chain(node("start", "trigger", input_schema=SCHEMA))
    return WorkflowFactory(workspace=workspace, name="Triage", draft=draft)


def put(client, workflow, body):
    return client.put(URL.format(workflow.pk), body, content_type="application/json")


@pytest.mark.django_db
def test_the_api_reads_and_sets_which_set_receives_corrections(owner, workflow):
    api = token_client(owner, ALL)
    unset = {"workflow_id": workflow.pk, "auto_add": False, "eval_set_id": None}
    assert api.get(URL.format(workflow.pk)).json() == unset
    refused = put(api, workflow, {"auto_add": True})
    assert refused.status_code == 422
    assert refused.json()["error"]["details"]["problems"][0]["path"] == "body.auto_add"
    first = sets.create_set(workflow, "First", owner.user)
    only = put(api, workflow, {"auto_add": True})
    assert only.json() == {"workflow_id": workflow.pk, "auto_add": True, "eval_set_id": first.pk}
    second = sets.create_set(workflow, "Second", owner.user)
    refused = put(api, workflow, {"auto_add": True})
    assert refused.status_code == 422
    assert refused.json()["error"]["details"]["problems"][0]["path"] == "body.eval_set_id"
    foreign = sets.create_set(WorkflowFactory(workspace=workflow.workspace, draft=workflow.draft), "X", owner.user)
    assert put(api, workflow, {"auto_add": True, "eval_set_id": foreign.pk}).status_code == 422
    chosen = put(api, workflow, {"auto_add": True, "eval_set_id": second.pk})
    assert chosen.status_code == 200
    setting = CorrectionsSetting.objects.get(workflow=workflow)
    assert (setting.auto_add, setting.eval_set_id) == (True, second.pk)


@pytest.mark.django_db
def test_the_api_needs_the_write_scope_an_editor_and_the_workspace(owner, outsider, workflow):
    read_only = token_client(owner, [Scope.WORKFLOWS_READ])
    assert read_only.get(URL.format(workflow.pk)).status_code == 200
    assert put(read_only, workflow, {"auto_add": False}).status_code == 403
    viewer = MembershipFactory(workspace=workflow.workspace, user=UserFactory(username="vera"), role=Role.VIEWER)
    assert put(token_client(viewer, ALL), workflow, {"auto_add": False}).status_code == 403
    assert token_client(outsider, ALL).get(URL.format(workflow.pk)).status_code == 404
    assert not CorrectionsSetting.objects.exists()


@pytest.mark.django_db
def test_the_quality_tab_shows_and_changes_the_setting(owner, workflow, login_as):
    first = sets.create_set(workflow, "First", owner.user)
    second = sets.create_set(workflow, "Second", owner.user)
    client = login_as(owner)
    tab = client.get(f"/workflows/{workflow.pk}/quality/").content.decode()
    assert 'id="corrections-form"' in tab
    assert "wait as a proposal" in tab
    refused = client.post_form(f"/evals/workflows/{workflow.pk}/corrections/", {"auto_add": "on"})
    assert refused.status_code == 422
    assert "Into the eval set: choose which of the 2 eval sets receives the corrections" in refused.content.decode()
    saved = client.post_form(f"/evals/workflows/{workflow.pk}/corrections/", {"auto_add": "on", "eval_set": second.pk})
    assert saved.status_code == 302
    assert saved["Location"] == f"/workflows/{workflow.pk}/quality/"
    tab = client.get(saved["Location"]).content.decode()
    assert f'are added at once as a row of <a href="/evals/sets/{second.pk}/">Second</a>' in tab
    assert corrections.setting_of(workflow).eval_set == second
    assert first != second


@pytest.mark.django_db
def test_a_viewer_sees_the_setting_but_cannot_change_it(owner, workflow, login_as):
    viewer = MembershipFactory(workspace=workflow.workspace, user=UserFactory(username="vera"), role=Role.VIEWER)
    client = login_as(viewer)
    tab = client.get(f"/workflows/{workflow.pk}/quality/").content.decode()
    assert 'id="eval-corrections"' in tab
    assert 'id="corrections-form"' not in tab
    assert client.post_form(f"/evals/workflows/{workflow.pk}/corrections/", {"auto_add": ""}).status_code == 403
    assert not CorrectionsSetting.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_auto_add_for_the_first_flagged_set():
    executor = MigrationExecutor(connection)
    executor.migrate([("evals", "0001_initial")])
    before = [key for key in executor.loader.graph.leaf_nodes() if key[0] != "evals"] + [("evals", "0001_initial")]
    apps = executor.loader.project_state(before).apps
    Workspace = apps.get_model("accounts", "Workspace")
    Workflow = apps.get_model("builder", "Workflow")
    EvalSet = apps.get_model("evals", "EvalSet")
    workspace = Workspace.objects.create(name="W", slug="w")
    flagged = Workflow.objects.create(workspace=workspace, name="Flagged")
    plain = Workflow.objects.create(workspace=workspace, name="Plain")
    first = EvalSet.objects.create(workspace=workspace, workflow=flagged, name="B", auto_add_corrections=True)
    EvalSet.objects.create(workspace=workspace, workflow=flagged, name="A", auto_add_corrections=True)
    EvalSet.objects.create(workspace=workspace, workflow=plain, name="C", auto_add_corrections=False)
    executor = MigrationExecutor(connection)
    executor.migrate([("evals", "0002_corrections_setting")])
    setting = CorrectionsSetting.objects.get()
    assert (setting.workflow_id, setting.auto_add, setting.eval_set_id) == (flagged.pk, True, first.pk)
