"""A workflow's quality in production over the API: the Quality tab's two tables as JSON."""

from datetime import date, timedelta
from decimal import Decimal

from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router, Schema
from ninja.errors import HttpError
from pydantic import Field

from accounts.api_auth import token_scope
from accounts.models import Scope
from accounts.permissions import Action, get_for
from builder.models import Workflow
from builder.quality import BUCKETS, FIELDS, QualityQuery, by_version, over_time
from costs.forms import DEFAULT_DAYS, MAX_DAYS

router = Router(tags=["workflows"])


class QualityIn(Schema):
    since: date | None = Field(None, description="first day (UTC), default 30 days before `until`")
    until: date | None = Field(None, description="last day (UTC), default today")
    bucket: str = Field("day", description="the period of `over_time`: day, week or month")


class VersionQuality(Schema):
    version: int
    runs: int
    ended: int = Field(description="the runs that ended; the rates are of these")
    auto_resolved_percent: Decimal | None = Field(description="replied with no review and no escalation")
    escalated_percent: Decimal | None
    reviewed: int = Field(description="approval steps decided")
    approved_as_is: int
    edited: int
    rejected: int
    mean_edit_words: Decimal | None = Field(description="words inserted or deleted per edited approval")
    cost_per_run: Decimal | None
    latency_p50_s: Decimal | None = Field(description="start to end, review time included")
    latency_p95_s: Decimal | None


class PeriodQuality(VersionQuality):
    period: date = Field(description="the first day of the period")


class QualityOut(Schema):
    since: date
    until: date
    bucket: str
    by_version: list[VersionQuality]
    over_time: list[PeriodQuality]


def _query(workflow: Workflow, given: QualityIn) -> QualityQuery:
    until = given.until or timezone.localdate()
    since = given.since or until - timedelta(days=DEFAULT_DAYS - 1)
    if since > until:
        raise HttpError(422, "until: the end date is before the start date")
    if (until - since).days >= MAX_DAYS:
        raise HttpError(422, f"since: choose at most {MAX_DAYS} days")
    if given.bucket not in BUCKETS:
        raise HttpError(422, f"bucket: choose one of {', '.join(BUCKETS)}")
    return QualityQuery(workflow.workspace_id, workflow.pk, since, until, given.bucket)


@router.get("/workflows/{workflow_id}/quality", response=QualityOut, summary="Quality in production per version")
@token_scope(Scope.RUNS_READ)
def workflow_quality(request: HttpRequest, workflow_id: int, given: Query[QualityIn]) -> QualityOut:
    workflow = get_for(request.user, Workflow, Action.VIEW, pk=workflow_id)
    query = _query(workflow, given)
    versions = [VersionQuality(**dict(zip(FIELDS, row, strict=True))) for row in by_version(query).rows]
    periods = [PeriodQuality(period=row[0], **dict(zip(FIELDS, row[1:], strict=True))) for row in over_time(query).rows]
    return QualityOut(since=query.since, until=query.until, bucket=query.bucket, by_version=versions, over_time=periods)
