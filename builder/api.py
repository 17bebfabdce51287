"""Runs of workflows over the API: start one (latest version or draft), re-run one."""

from functools import partial
from typing import Any, cast

from django.conf import settings
from django.contrib.auth.models import User
from django.http import HttpRequest, StreamingHttpResponse
from ninja import Query, Router, Schema, Status
from ninja.errors import HttpError
from pydantic import Field, HttpUrl

from accounts.api_auth import token_scope
from accounts.models import ApiToken, Scope
from accounts.permissions import Action, get_for
from accounts.tokens import check_scope, count_trigger
from builder import run_waits, trigger_reads, versions
from builder.models import Workflow
from engine import dispatch, runs
from engine.models import ENDED_RUN, Run, TriggerKind
from engine.runs import Options
from monitoring import stream
from monitoring.api import RunOut, run_out

router = Router(tags=["workflows"])


class RerunQuery(Schema):
    latest: bool = Field(False, description="run the workflow's latest published version instead of the same one")


@router.post(
    "/runs/{run_id}/rerun", response={202: RunOut}, summary="Start a new run with the same input", tags=["runs"]
)
@token_scope(Scope.RUNS_TRIGGER)
def rerun(request: HttpRequest, run_id: int, query: Query[RerunQuery]) -> Status[RunOut]:
    count_trigger(request)
    old = get_for(request.user, Run, Action.EDIT, pk=run_id)
    options = Options(trigger_kind=TriggerKind.MANUAL, created_by=cast(User, request.user))
    if not query.latest:
        return Status(202, run_out(runs.rerun(old, options), request.user))
    workflow = Workflow.objects.filter(
        pk=old.workflow_id or 0, workspace_id=old.workspace_id, archived_at__isnull=True
    ).first()
    if workflow is None:
        raise HttpError(409, "The workflow of this run no longer exists")
    try:
        return Status(202, run_out(versions.run_latest(workflow, old.input, options), request.user))
    except versions.NothingPublished as error:
        raise HttpError(409, str(error)) from None


class RunIn(Schema):
    input: dict[str, Any] = Field(default_factory=dict, description="checked against the trigger's input schema")
    draft: bool = Field(False, description="run the current draft as a test run instead of the latest version")
    wait: bool = Field(False, description="answer when the run has ended (200), or after timeout_s (202)")
    callback_url: HttpUrl | None = Field(None, description="also POST a signed notice here when the run ends")
    stream: bool = Field(
        False,
        description=(
            "answer with the run as Server-Sent Events, as GET /runs/{id}/stream does (a token needs runs:read "
            "as well); the run's URL is in the Location header"
        ),
    )
    timeout_s: float = Field(30, gt=0, le=settings.RUN_WAIT_MAX_SECONDS)


@router.post("/workflows/{workflow_id}/runs", response={200: RunOut, 202: RunOut}, summary="Start a run")
@token_scope(Scope.RUNS_TRIGGER, reads=trigger_reads.with_workflow)
def start_run(
    request: HttpRequest, workflow_id: int, body: RunIn
) -> Status[RunOut] | StreamingHttpResponse | run_waits.WaitingAnswer:
    """202 with the queued run; with `wait`, 200 once it ended; with `stream`, its events as they come.
    An `Idempotency-Key` header makes retries of this call safe: the same key for the same
    workflow returns the same run.

    Sync, so that the token's check, the start and the answer go to the request's thread in one
    hand-off; a waiting call still awaits the run's end on no thread (run_waits.WaitingAnswer),
    and a stream is iterated on the server's loop."""
    if body.stream and body.wait:
        raise HttpError(422, "stream: cannot be combined with wait")
    if body.stream and isinstance(request.auth, ApiToken):  # type: ignore[attr-defined]
        check_scope(request.auth, Scope.RUNS_READ)  # type: ignore[attr-defined]
    if not (body.stream or body.wait):
        return _started(request, workflow_id, body)
    run = _start(request, workflow_id, body)
    if body.stream:
        streamed = stream.response(run.pk, 0, stream.access_of(request, run.workspace_id))
        streamed["Location"] = f"/api/v1/runs/{run.pk}"
        return streamed
    return run_waits.WaitingAnswer(partial(_waited, request, run, body.timeout_s))


async def _waited(request: HttpRequest, run: Run, timeout_s: float) -> Status[RunOut]:
    """The waiting call's answer once its run ended or `timeout_s` passed."""
    await run_waits.ended(run.pk, timeout_s)
    return await run_waits.read(_answer, run, request.user)


def _started(request: HttpRequest, workflow_id: int, body: RunIn) -> Status[RunOut]:
    """202 with the run just started.

    Its node message is held until the answer is out (send_held): the caller does not wait for
    the broker, which was a tenth of a trigger's time at one connection (docs/benchmarks.md).
    """
    dispatch.hold()
    return Status(202, run_out(_start(request, workflow_id, body), request.user))


def send_held(**_: object) -> None:
    """The node messages this thread's request held (`_started`, hook_api's `receive`) leave once it has finished.

    Connected to request_finished, which Django sends on the request's own thread after the
    answer went out (or the caller went away), ahead of the receiver that gives the request's
    database connection back: a message that cannot be sent marks its node for the reaper on it.
    """
    dispatch.release()


def _start(request: HttpRequest, workflow_id: int, body: RunIn) -> Run:
    count_trigger(request)
    # With a token, the workflow, the caller's role and the version to run came with it; with a session, one
    # query for them. The draft only for a test run.
    workflow = None if body.draft else trigger_reads.workflow(request, workflow_id)
    if workflow is None:
        workflows = Workflow.objects.all() if body.draft else versions.with_latest(Workflow.objects.defer("draft"))
        workflow = get_for(request.user, workflows, Action.EDIT, pk=workflow_id, archived_at__isnull=True)
    key = request.headers.get("Idempotency-Key", "").strip()
    if len(key) > 200:
        raise HttpError(422, "Idempotency-Key: at most 200 characters")
    options = Options(
        trigger_kind=TriggerKind.TEST if body.draft else TriggerKind.API,
        created_by=cast(User, request.user),
        idempotency_key=key,
    )
    callbacks = (str(body.callback_url),) if body.callback_url else ()
    try:
        return (
            versions.run_draft(workflow, body.input, options, callbacks)
            if body.draft
            else versions.run_latest(workflow, body.input, options, callbacks)
        )
    except versions.NothingPublished as error:
        raise HttpError(409, f"{error}: publish one, or pass draft=true for a test run") from None


def _answer(run: Run, user: Any) -> Status[RunOut]:
    """200 with the ended run; 202 with it as it is if it had not ended in time (it keeps going); 410 if it was
    deleted meanwhile (its workflow's or workspace's deletion, retention): its last known state would say queued."""
    try:
        run.refresh_from_db()
    except Run.DoesNotExist:
        raise HttpError(410, f"Run {run.pk} was deleted while this call waited for it") from None
    return Status(200 if run.status in ENDED_RUN else 202, run_out(run, user))
