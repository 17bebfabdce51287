"""The eval set page's editing forms: a scorer changed and removed (over htmx, refusals naming the field), rows
imported from a dataset with the expected columns mapped (rows that do not match refused by row and field), and
viewers and other workspaces kept out."""

import pytest

from accounts.models import Role
from datasets import store
from evals import sets
from evals.models import EvalRow, Scorer
from tests.evals.test_pages import triage  # noqa: F401 - the workflow fixture
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def eval_set(triage, owner):  # noqa: F811
    found = sets.create_set(triage.workflow, "Tickets", owner.user)
    sets.save_scorer(found, sets.ScorerSpec("exact", "exact", "category", {}, 1.0), owner.user)
    return found


def edit(client, eval_set, scorer, **values):
    prefix = f"scorer-{scorer.pk}-"
    data = {"name": scorer.name, "kind": scorer.kind, "field": scorer.field, "config": "", "threshold": "1"}
    data.update(values)
    return client.post_form(
        f"/evals/sets/{eval_set.pk}/scorers/{scorer.pk}/", {prefix + k: v for k, v in data.items()}, **HTMX
    )


def test_a_scorer_is_changed_over_htmx_and_a_bad_setting_is_refused_naming_it(owner, eval_set, login_as):
    client = login_as(owner)
    scorer = Scorer.objects.get()
    page = client.get(f"/evals/sets/{eval_set.pk}/").content.decode()
    assert f'id="edit-scorer-{scorer.pk}"' in page
    refused = edit(client, eval_set, scorer, kind="regex", config='{"pattern": "(a"}')
    assert refused.status_code == 422
    body = refused.content.decode()
    assert body.lstrip().startswith('<section class="card" id="scorers">')
    assert "Config: config.pattern: the regular expression does not compile" in body
    assert Scorer.objects.get().kind == "exact"
    assert edit(client, eval_set, scorer, threshold="7").status_code == 422
    cites = '{"pattern": "\\\\[1\\\\]"}'
    saved = edit(client, eval_set, scorer, name="cites", kind="regex", field="answer", config=cites)
    assert saved.status_code == 200
    assert 'data-scorer="cites"' in saved.content.decode()
    changed = Scorer.objects.get()
    assert (changed.pk, changed.name, changed.kind) == (scorer.pk, "cites", "regex")
    assert changed.config["pattern"] == r"\[1\]"


def test_a_scorer_is_removed_and_a_name_taken_is_refused(owner, eval_set, login_as):
    client = login_as(owner)
    first = Scorer.objects.get()
    sets.save_scorer(eval_set, sets.ScorerSpec("second", "contains", "answer", {}, 1.0), owner.user)
    second = Scorer.objects.get(name="second")
    taken = edit(client, eval_set, second, name="exact", kind="contains")
    assert taken.status_code == 422
    assert "already has a scorer named" in taken.content.decode()
    removed = client.post_form(f"/evals/sets/{eval_set.pk}/scorers/{first.pk}/delete/")
    assert removed.status_code == 302
    assert list(Scorer.objects.values_list("name", flat=True)) == ["second"]


def test_a_dataset_is_imported_with_its_expected_columns(owner, eval_set, login_as):
    rows = [{"subject": "Billing", "category": "billing"}, {"subject": "Login", "category": "account"}]
    dataset = store.from_rows(owner.workspace, store.DatasetSpec("Labelled", ""), rows, owner.user)
    client = login_as(owner)
    page = client.get(f"/evals/sets/{eval_set.pk}/").content.decode()
    assert 'id="import-dataset"' in page
    missing = client.post_form(
        f"/evals/sets/{eval_set.pk}/import/", {"dataset": dataset.pk, "expected_columns": "categry"}
    )
    assert missing.status_code == 422
    assert "Expected columns: the dataset has no column &#x27;categry&#x27;" in missing.content.decode()
    mapping = {"dataset": dataset.pk, "expected_columns": "category"}
    done = client.post_form(f"/evals/sets/{eval_set.pk}/import/", mapping)
    assert done.status_code == 302
    imported = list(EvalRow.objects.order_by("position").values_list("input", "expected", "source"))
    assert imported == [
        ({"subject": "Billing"}, {"category": "billing"}, "dataset"),
        ({"subject": "Login"}, {"category": "account"}, "dataset"),
    ]


def test_rows_that_do_not_match_refuse_the_import_by_row_and_field(owner, eval_set, login_as):
    rows = [{"subject": "Billing", "category": "billing"}, {"subject": 3, "category": "account"}]
    dataset = store.from_rows(owner.workspace, store.DatasetSpec("Bad", ""), rows, owner.user)
    refused = login_as(owner).post_form(
        f"/evals/sets/{eval_set.pk}/import/", {"dataset": dataset.pk, "expected_columns": "category"}
    )
    assert refused.status_code == 422
    assert "row 2, subject: 3 is not of type" in refused.content.decode()
    assert not EvalRow.objects.exists()


def test_viewers_and_other_workspaces_cannot_edit(owner, outsider, eval_set, login_as):
    scorer = Scorer.objects.get()
    viewer = MembershipFactory(workspace=owner.workspace, user=UserFactory(username="vera"), role=Role.VIEWER)
    client = login_as(viewer)
    page = client.get(f"/evals/sets/{eval_set.pk}/").content.decode()
    assert 'id="edit-scorer-' not in page
    assert 'id="import-dataset"' not in page
    assert client.post_form(f"/evals/sets/{eval_set.pk}/scorers/{scorer.pk}/delete/").status_code == 403
    foreign = store.from_rows(outsider.workspace, store.DatasetSpec("Theirs", ""), [{"subject": "x"}], outsider.user)
    owner_client = login_as(owner)
    refused = owner_client.post_form(f"/evals/sets/{eval_set.pk}/import/", {"dataset": foreign.pk})
    assert refused.status_code == 422
    assert "Dataset: Select a valid choice" in refused.content.decode()
    stranger = login_as(outsider)
    assert stranger.post_form(f"/evals/sets/{eval_set.pk}/scorers/{scorer.pk}/delete/").status_code == 404
    assert Scorer.objects.exists()
    assert not EvalRow.objects.exists()
