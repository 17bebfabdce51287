"""The demo help centre: seeded for the demo and for every new workspace, and used by the Support triage template."""

import pytest
from django.core.management import call_command

from accounts.workspaces import create_workspace
from builder.models import Workflow
from builder.starters import SUPPORT_TRIAGE_NAME
from builder.versions import run_version
from engine.runs import Options
from knowledge.demo import HELP_CENTRE, articles
from knowledge.models import Chunk, KnowledgeBase, Status
from tests.engine.running import node, wait_for


def test_every_article_has_a_title_a_category_and_a_heading():
    found = articles()
    assert len(found) >= 30
    for article in found:
        assert article.title
        assert article.metadata["category"]
        assert article.body.decode().lstrip().startswith("# ")


def test_seed_demo_ingests_the_help_centre_once(db, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    base = KnowledgeBase.objects.get(workspace__slug="demo", name=HELP_CENTRE)
    assert base.documents.filter(status=Status.READY).count() == len(articles())
    chunk_ids = set(Chunk.objects.values_list("pk", flat=True))
    version = base.index_version
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    base.refresh_from_db()
    assert set(Chunk.objects.values_list("pk", flat=True)) == chunk_ids
    assert base.index_version == version


def test_every_new_workspace_gets_the_help_centre(owner):
    workspace = create_workspace("Acme", owner=owner.user)
    base = KnowledgeBase.objects.get(workspace=workspace, name=HELP_CENTRE)
    assert base.documents.filter(status=Status.READY).count() == len(articles())
    assert not base.is_lexical


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("celery_worker")
def test_support_triage_drafts_a_reply_that_cites_the_help_centre(owner):
    workspace = create_workspace("Acme", owner=owner.user)
    version = Workflow.objects.get(workspace=workspace, name=SUPPORT_TRIAGE_NAME).latest_version()
    ticket = {
        "subject": "Charged twice",
        "body": "I see two charges from Quillpad on my card this month. Was I charged twice?",
        "customer": "Ann",
    }
    run = wait_for(run_version(version, ticket, Options()))
    retrieved = node(run, "retrieve").output
    assert retrieved["passages"][0]["title"] == "I was charged twice"
    assert retrieved["passages"][0]["url"] == "https://help.quillpad.example/double-charge"
    assert retrieved["top_score"] > 0.3
    draft = node(run, "draft").output["text"]
    assert "[1]" in draft
    assert "[1] I was charged twice (https://help.quillpad.example/double-charge)" in draft
    assert node(run, "check").output["signals"]["retrieval_score"] == retrieved["top_score"]
