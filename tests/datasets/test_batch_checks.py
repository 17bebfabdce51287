"""What a batch is refused for before anything starts: too many rows, an archived workflow, a concurrency or an
output field out of bounds, a dataset of another workspace."""

import pytest
from django.utils import timezone

from datasets import batches, store
from datasets.models import Batch
from engine.models import Run
from tests.factories import WorkflowFactory, WorkflowVersionFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db

GRAPH = {"schema_version": 1, "nodes": [{"id": "start", "type": "trigger"}], "edges": []}


@pytest.fixture
def version(workspace):
    return WorkflowVersionFactory(
        workflow=WorkflowFactory(workspace=workspace, name="Triage", draft=GRAPH), graph=GRAPH
    )


@pytest.fixture
def dataset(workspace, owner):
    return store.from_rows(workspace, store.DatasetSpec("Rows"), [{"n": n} for n in range(5)], owner.user)


def refusal(spec, owner) -> batches.BatchInvalid:
    with pytest.raises(batches.BatchInvalid) as refused:
        batches.start_batch(spec, owner.user)
    assert not Batch.objects.exists()
    assert not Run.objects.exists()
    return refused.value


def test_it_refuses_more_rows_than_a_for_each_runs(dataset, version, owner, settings):
    settings.ENGINE_FOR_EACH_MAX_ITEMS = 4
    refused = refusal(batches.BatchSpec(dataset, version), owner)
    assert (refused.field, str(refused)) == ("dataset_id", "the dataset has 5 rows; a batch runs at most 4")


def test_it_refuses_an_archived_workflow(dataset, version, owner):
    version.workflow.archived_at = timezone.now()
    version.workflow.save()
    assert refusal(batches.BatchSpec(dataset, version), owner).field == "version_id"


@pytest.mark.parametrize("concurrency", [0, 501])
def test_it_refuses_a_concurrency_out_of_bounds(dataset, version, owner, concurrency):
    assert refusal(batches.BatchSpec(dataset, version, concurrency), owner).field == "concurrency"


@pytest.mark.parametrize("fields", [("reply text",), ("a..b",), ("x",) * 21, ("{{ secrets.KEY }}",)])
def test_it_refuses_output_fields_that_are_not_paths(dataset, version, owner, fields):
    assert refusal(batches.BatchSpec(dataset, version, 10, fields), owner).field == "output_fields"


def test_it_refuses_a_dataset_of_another_workspace(version, owner):
    theirs = store.from_rows(WorkspaceFactory(), store.DatasetSpec("Theirs"), [{"n": 1}], None)
    assert refusal(batches.BatchSpec(theirs, version), owner).field == "dataset_id"


def test_it_reads_output_fields_as_typed_in_a_form():
    assert batches.output_fields(" label, reply.text  labels.0,") == ("label", "reply.text", "labels.0")
