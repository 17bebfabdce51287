"""A node that raises something unexpected fails with a short message; its traceback goes to the log only."""

import logging
import time
from concurrent.futures import Future

import pytest

from engine import runs
from engine.flow import run_graph
from engine.models import NodeRun
from engine.registry import NodeResult
from engine.runner import Execution, NodeBatch
from engine.workspace_secrets import SecretsInUse
from tests.engine.graphs import TRIGGER, chain, node

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("without_worker")]


def test_it_shows_an_unexpected_error_without_its_traceback_and_logs_the_traceback(workspace, caplog):
    source = runs.RunSource(workspace_id=workspace.pk, graph=chain(TRIGGER, node("next", "transform")))
    run = runs.start_run(source, {}, runs.Options())
    claimed = runs.claim(NodeRun.objects.get(run=run, node_id="next").pk, "this-test", lease_s=30)
    assert claimed is not None
    landed: Future[NodeResult] = Future()
    try:
        raise RuntimeError("boom at /srv/switchyard/engine/nodes/transform.py")
    except RuntimeError as error:
        landed.set_exception(error)
    later = time.monotonic() + 60
    transform = run_graph(run.pk).node("next")
    execution = Execution(claimed, transform, workspace.pk, {}, None, later, later, SecretsInUse(workspace.pk))
    with caplog.at_level(logging.ERROR, logger="engine.runner"):
        NodeBatch("this-test", time.monotonic()).record(execution, landed)
    failed = NodeRun.objects.get(pk=claimed.pk)
    assert failed.error["code"] == "unexpected_error"
    assert failed.error["message"] == "The node failed unexpectedly (RuntimeError)"
    assert failed.error["traceback"] == ""
    assert "Traceback (most recent call last)" in caplog.text
    assert "boom at /srv/switchyard" in caplog.text
