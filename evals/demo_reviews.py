"""The demo's production runs of Support triage that went through the review inbox (seed_demo), so the
Quality tab shows review outcomes per version: some approved as is, some edited, some rejected (which
escalates) or escalated by the reviewer. The edits become eval-set proposals as any reviewer's edit does.

Unlike the rest of the seed, these runs are run while seeding, in the seeding process: a decision needs
the run to be waiting at its review step, and the demo's reviewer decides each one through
`approvals.decisions`, as the inbox does. About half a second a run on the built-in provider.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User

from accounts.models import Membership
from approvals.decisions import Choice, decide, refusal
from approvals.models import ApprovalRequest, Decision, Status
from builder.models import Workflow, WorkflowVersion
from builder.versions import run_version
from engine.models import Run
from engine.runs import Options
from engine.tasks import execute_node


@dataclass(frozen=True)
class Review:
    ticket: dict[str, Any]
    choice: Choice


# Tickets the confidence check sends to a reviewer on the built-in model: refunds, and urgent or unclear ones.
REFUND = {
    "subject": "Refund please",
    "body": "I want a refund for my annual plan, I no longer use it.",
    "customer": "Iris Novak",
}
HACKED = {
    "subject": "Account hacked",
    "body": "Someone hacked my account and changed the password. Please fix this immediately!",
    "customer": "Jon Park",
}
CHARGED = {
    "subject": "Double charge refund",
    "body": "You charged my card twice, I want my money back.",
    "customer": "Kim Lo",
}
LOCKED = {
    "subject": "Cannot log in",
    "body": "I cannot log in since this morning, it says my account is locked. Urgent, I have a demo today.",
    "customer": "Lea Roy",
}
CANCEL = {
    "subject": "Cancel and refund",
    "body": "Please cancel my subscription and refund this month.",
    "customer": "Nia Cole",
}
CHARGED_REPLY = (
    "Hi Kim, sorry about the double charge. I have refunded the second payment; it will be back on your card "
    "within 5 to 10 days [1]."
)
LOCKED_REPLY = (
    "Hi Lea, your account was locked after several failed sign-ins. I have unlocked it: reset your password "
    "from the sign-in page and you can sign in again [1]."
)
CANCEL_REPLY = (
    "Hi Nia, I have cancelled your subscription and refunded this month's payment. Your notes stay readable "
    "on the free plan [1]."
)
HANDLED_ELSEWHERE = "Refunds of more than one month go through the billing team"
# Per published version (by number), what the reviewer decided.
REVIEWS: dict[int, list[Review]] = {
    1: [
        Review(REFUND, Choice(Decision.APPROVE)),
        Review(HACKED, Choice(Decision.ESCALATE, comment="Security: the account team takes over")),
        Review(CHARGED, Choice(Decision.EDIT, {"reply": CHARGED_REPLY})),
        Review(LOCKED, Choice(Decision.EDIT, {"reply": LOCKED_REPLY})),
        Review(CANCEL, Choice(Decision.REJECT, comment=HANDLED_ELSEWHERE)),
    ],
    2: [
        Review(REFUND, Choice(Decision.APPROVE)),
        Review(LOCKED, Choice(Decision.APPROVE)),
        Review(CHARGED, Choice(Decision.EDIT, {"reply": CHARGED_REPLY})),
        Review(CANCEL, Choice(Decision.EDIT, {"reply": CANCEL_REPLY})),
        Review(HACKED, Choice(Decision.REJECT, comment="Security: the account team takes over")),
    ],
}


def add_reviewed_runs(triage: Workflow, reviewer: User) -> list[Run]:
    """Runs of each published version in REVIEWS, decided by `reviewer`; none if the workflow has asked for a
    review before (seeded already, or reviewed by people since). Must run outside a transaction: each run goes
    as far as it can when its start commits."""
    if ApprovalRequest.objects.filter(workspace_id=triage.workspace_id, workflow_id=triage.pk).exists():
        return []
    member = Membership.objects.filter(workspace_id=triage.workspace_id, user=reviewer).first()
    versions = {version.number: version for version in triage.versions.filter(number__in=REVIEWS)}
    runs = []
    with nodes_run_here(), no_emails():
        for number, reviews in REVIEWS.items():
            if number in versions:
                runs.extend(_reviewed(versions[number], reviews, reviewer, member))
    return runs


def _reviewed(version: WorkflowVersion, reviews: list[Review], reviewer: User, member: Membership | None) -> list[Run]:
    runs = []
    for review in reviews:
        run = run_version(version, review.ticket, Options())
        request = ApprovalRequest.objects.filter(run_id=run.pk, status=Status.PENDING).first()
        if request is not None and refusal(reviewer, member, request) is None:
            decide(request, reviewer, review.choice)
        run.refresh_from_db()
        runs.append(run)
    return runs


@contextmanager
def nodes_run_here() -> Iterator[None]:
    """Celery's eager mode for the block: a node ready after a commit runs in this process at once, so a run
    started (or resumed by a decision) has gone as far as it can when the call returns."""
    conf = execute_node.app.conf
    before = (conf.task_always_eager, conf.task_eager_propagates)
    conf.task_always_eager = conf.task_eager_propagates = True
    try:
        yield
    finally:
        conf.task_always_eager, conf.task_eager_propagates = before


@contextmanager
def no_emails() -> Iterator[None]:
    """Django's dummy email backend for the block: these reviews are the demo's history, so nobody is told of them (on
    `make run` the console backend printed twenty "Review needed" emails above the demo's logins)."""
    before = settings.EMAIL_BACKEND
    settings.EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
    try:
        yield
    finally:
        settings.EMAIL_BACKEND = before
