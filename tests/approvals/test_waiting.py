"""Waiting for people holds no worker: fifty runs parked on approvals, on a real worker."""

import pytest

from approvals.models import ApprovalRequest, Status
from config.celery import app
from tests.approvals.flows import asking, start, triage

pytestmark = [pytest.mark.usefixtures("celery_worker"), pytest.mark.django_db(transaction=True)]


def test_it_holds_no_worker_while_50_runs_wait(owner):
    runs = [start(owner.workspace, triage()) for _ in range(50)]
    for run in runs:
        asking(run, timeout=60)
    active = app.control.inspect(timeout=2).active() or {}
    assert sum(len(tasks) for tasks in active.values()) == 0
    assert ApprovalRequest.objects.filter(status=Status.PENDING).count() == 50
