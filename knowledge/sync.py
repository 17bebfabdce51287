"""Scheduled re-syncs of web pages: claim the documents whose next sync is due, and say which are stale."""

from datetime import datetime, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from knowledge.models import IN_PROGRESS, Document, KnowledgeBase, SourceKind

CLAIM_LIMIT = 200
SCHEDULES: list[tuple[str, str]] = [
    ("", "Never"),
    ("1", "Every hour"),
    ("24", "Every day"),
    ("168", "Every week"),
]


def every(hours: str | int | None) -> timedelta | None:
    return timedelta(hours=int(hours)) if hours else None


def arm(document: Document, hours: str | int | None, now: datetime | None = None) -> None:
    """Set a web page's schedule; the first sync is one interval after now (it was just fetched)."""
    document.sync_every = every(hours) if document.kind == SourceKind.URL else None
    document.next_sync_at = (now or timezone.now()) + document.sync_every if document.sync_every else None


def claim_due(now: datetime | None = None) -> list[int]:
    """Ids of scheduled documents now due, each claimed once however many beat ticks overlap.

    The claim moves `next_sync_at` on with a conditional UPDATE: of two ticks reading the same
    row, only the one whose update still sees the old value wins.
    """
    now = now or timezone.now()
    due = (
        Document.objects.filter(kind=SourceKind.URL, sync_every__isnull=False, next_sync_at__lte=now)
        .exclude(status__in=IN_PROGRESS)
        .order_by("next_sync_at")
        .values_list("pk", "next_sync_at", "sync_every")[:CLAIM_LIMIT]
    )
    claimed = []
    for pk, planned, interval in due:
        if interval is None:
            continue
        moved = Document.objects.filter(pk=pk, next_sync_at=planned).update(next_sync_at=now + interval)
        if moved:
            claimed.append(pk)
    return claimed


def stale(base: KnowledgeBase, now: datetime | None = None) -> list[Document]:
    scheduled: QuerySet[Document] = base.documents.filter(sync_every__isnull=False).defer("raw")
    return [document for document in scheduled if document.is_stale(now)]
