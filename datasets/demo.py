"""The demo workspace's dataset of tickets, and a batch of Support triage over it (seed_demo).

The tickets are ones Support triage answers on the built-in model without a reviewer, so the
batch finishes by itself once a worker runs it (`make run` starts one right after seeding).
"""

from django.contrib.auth.models import AnonymousUser

from accounts.models import Workspace
from builder.models import Workflow
from datasets import batches, store
from datasets.models import Batch, Dataset

DATASET_NAME = "Sample tickets"
SAMPLE_TICKETS = [
    {
        "subject": "Charged twice",
        "body": "I was charged twice for my Quillpad Pro subscription this month. Can you refund one?",
        "customer": "Ann Lee",
    },
    {
        "subject": "Reset my password",
        "body": "How do I reset my password? The reset email never arrives.",
        "customer": "Bo Chen",
    },
    {
        "subject": "Sync stopped",
        "body": "My notes stopped syncing between my laptop and phone since yesterday.",
        "customer": "Cara Diaz",
    },
    {
        "subject": "Change my email",
        "body": "How can I change the email address on my account?",
        "customer": "Dev Patel",
    },
    {
        "subject": "App crashes",
        "body": "The app crashes every time I open a notebook with images.",
        "customer": "Gus Ortiz",
        "priority": "urgent",
    },
    {
        "subject": "Invoice needed",
        "body": "Can I get an invoice for my last payment for my company?",
        "customer": "Hana Ito",
    },
]


def add_sample_tickets(workspace: Workspace, triage: Workflow) -> Batch | None:
    """The dataset and, when it is first made, a batch of `triage`'s latest version over it; None if it exists."""
    if Dataset.objects.filter(workspace=workspace, name=DATASET_NAME).exists():
        return None
    spec = store.DatasetSpec(name=DATASET_NAME, description="Support tickets for trying batch runs.")
    dataset = store.from_rows(workspace, spec, SAMPLE_TICKETS, by=AnonymousUser())
    version = triage.latest_version()
    if version is None:
        return None
    return batches.start_batch(batches.BatchSpec(dataset, version, concurrency=3, output_fields=("answer",)), by=None)
