"""The demo workspace has a dataset of tickets and batches of Support triage over it that finish by themselves."""

from io import StringIO

import pytest
from django.core.management import call_command

from datasets import results
from datasets.demo import DATASET_NAME, SAMPLE_TICKETS
from datasets.models import Batch, Dataset
from tests.engine.running import wait_for

pytestmark = [pytest.mark.usefixtures("celery_worker"), pytest.mark.django_db(transaction=True)]


def test_the_demo_batch_of_support_triage_finishes_with_an_answer_per_ticket(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    call_command("seed_demo", stdout=StringIO())
    call_command("seed_demo", stdout=StringIO())  # again, as every `make run` does: nothing more is made

    dataset = Dataset.objects.get(workspace__slug="demo", name=DATASET_NAME)
    assert dataset.row_count == len(SAMPLE_TICKETS)
    # One batch of v1 (datasets.demo) and one of v2 (evals.demo): the Quality tab shows both versions.
    demo_batches = Batch.objects.filter(dataset=dataset).order_by("pk")
    assert [(b.workflow.name, b.version.number) for b in demo_batches] == [("Support triage", 1), ("Support triage", 2)]

    for batch in demo_batches:
        assert wait_for(batch.run, timeout=120).status == "succeeded"
        rows = results.results(batch, 0, len(SAMPLE_TICKETS))
        assert [row.status for row in rows] == ["succeeded"] * len(SAMPLE_TICKETS)
        assert all(row.output["answer"] for row in rows), [row.output for row in rows]
