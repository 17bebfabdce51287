"""Knowledge tasks: ingest one document, and the beat tick that re-syncs web pages whose schedule is due."""

from celery import shared_task

from knowledge import pipeline, sync


@shared_task(soft_time_limit=600, time_limit=660)
def ingest_document(document_id: int) -> str:
    return pipeline.ingest(document_id)


@shared_task(soft_time_limit=50, time_limit=60)
def sync_due_documents() -> int:
    due = sync.claim_due()
    for document_id in due:
        ingest_document.delay(document_id)
    return len(due)
