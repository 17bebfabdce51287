"""The demo's evaluation story: on a fresh seed, both versions' eval runs finish and v2's dropped sources show."""

from django.utils import timezone

from accounts.workspaces import create_workspace
from builder.models import Workflow
from builder.quality import QualityQuery, by_version
from builder.starters import SUPPORT_TRIAGE_NAME
from evals import comparison
from evals.demo import add_eval_demo
from evals.models import EvalRun
from tests.engine.running import wait_for


def test_it_seeds_two_versions_whose_eval_runs_compare(in_process, owner):
    workspace = create_workspace("Demo", owner=owner.user)
    triage = Workflow.objects.get(workspace=workspace, name=SUPPORT_TRIAGE_NAME)
    add_eval_demo(triage)

    v1_run, v2_run = EvalRun.objects.filter(workflow=triage).order_by("version_number")
    for eval_run in (v1_run, v2_run):
        wait_for(eval_run.run, timeout=60)
        eval_run.refresh_from_db()
    summary = comparison.summarize(v1_run, v2_run)
    today = timezone.localdate()
    quality = by_version(QualityQuery(triage.workspace_id, triage.pk, today, today))

    assert (v1_run.version_number, v2_run.version_number) == (1, 2)
    assert v1_run.aggregates["scorers"]["category_exact"]["pass_rate"] == 1.0
    assert v1_run.aggregates["scorers"]["cites_sources"]["pass_rate"] == 1.0
    assert v2_run.aggregates["scorers"]["cites_sources"]["pass_rate"] == 0.0
    assert (summary.compared, summary.regressions, summary.fixes) == (6, 6, 0)
    assert quality.rows == []  # eval runs are test runs: production quality leaves them out
    assert add_eval_demo(triage) is None
    assert triage.versions.count() == 2
