"""The demo help centre: 37 articles about Quillpad (a notes app and its e-ink tablet) in knowledge/demo_articles/.

Every new workspace gets it, since the Support triage template retrieves from it, and so does
`seed_demo`. It is ingested in the creating process, not queued: a run started right after the
workspace exists must find the articles, and 37 short articles take well under a second.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from accounts.models import Workspace
from engine.providers import BUILTIN, BUILTIN_EMBEDDING_MODEL
from knowledge import pipeline
from knowledge.models import Document, KnowledgeBase, SourceKind

ARTICLES = Path(__file__).resolve().parent / "demo_articles"
HELP_CENTRE = "Help centre"


@dataclass(frozen=True)
class Article:
    filename: str
    title: str
    metadata: dict[str, str]
    body: bytes


def articles() -> list[Article]:
    """Every article with its front matter (`key: value` lines between `---` lines) split off."""
    found = []
    for path in sorted(ARTICLES.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        header, _, body = text.removeprefix("---\n").partition("\n---\n")
        metadata = dict(line.split(": ", 1) for line in header.splitlines() if ": " in line)
        title = metadata.pop("title", path.stem)
        found.append(Article(path.name, title, metadata, body.encode()))
    return found


def seed_help_centre(workspace: Workspace) -> KnowledgeBase:
    """Create the help centre and ingest its articles in this process (idempotent: unchanged articles are no-ops)."""
    base, _ = KnowledgeBase.objects.get_or_create(
        workspace=workspace,
        name=HELP_CENTRE,
        defaults={
            "description": "Quillpad help-centre articles: billing, accounts, notes, apps, devices and orders.",
            "embedding": f"{BUILTIN}|{BUILTIN_EMBEDDING_MODEL}",
        },
    )
    for article in articles():
        document, _ = Document.objects.update_or_create(
            knowledge_base=base,
            filename=article.filename,
            defaults={
                "workspace": workspace,
                "title": article.title,
                "kind": SourceKind.UPLOAD,
                "raw": article.body,
                "metadata": {**article.metadata, "url": f"https://help.quillpad.example/{Path(article.filename).stem}"},
            },
        )
        pipeline.ingest(document.pk)
    return base


def on_workspace_created(sender: Any, workspace: Workspace, **kwargs: Any) -> None:
    seed_help_centre(workspace)
