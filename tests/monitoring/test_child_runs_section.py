"""The run page's child runs section: it polls from the start of a run whose graph calls workflows,
so the counts appear as soon as the first item starts, even on a page opened before that."""

from engine.models import RunStatus
from tests.factories import RunFactory

CALLING = {
    "schema_version": 1,
    "nodes": [
        {"id": "start", "type": "trigger"},
        {"id": "each", "type": "for_each", "label": "Each document", "params": {"workflow_id": 1, "items": "input"}},
    ],
    "edges": [{"id": "e", "source": "start", "target": "each"}],
}


def test_a_queued_run_that_calls_workflows_polls_for_its_child_runs(login_as, owner):
    run = RunFactory(workspace=owner.workspace, graph=CALLING, status=RunStatus.QUEUED)
    page = login_as(owner).get(f"/runs/{run.pk}/").content.decode()
    section = page.split('id="child-runs"', 1)[1].split("</section>", 1)[0]
    assert 'hx-trigger="every 2s"' in section
    assert "No child run has started yet." in section


def test_a_run_that_calls_no_workflow_has_no_child_runs_section(login_as, owner):
    run = RunFactory(workspace=owner.workspace, status=RunStatus.QUEUED)
    assert 'id="child-runs"' not in login_as(owner).get(f"/runs/{run.pk}/").content.decode()


def test_an_ended_run_without_child_runs_stops_polling(login_as, owner):
    run = RunFactory(workspace=owner.workspace, graph=CALLING, status=RunStatus.FAILED)
    assert 'id="child-runs"' not in login_as(owner).get(f"/runs/{run.pk}/").content.decode()
