"""The REST API under /api/v1: one NinjaAPI, each app's router mounted here, one error shape.

Every error answers {"error": {"code", "message", "details"}} so clients need one parser.
"""

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.datastructures import MultiValueDict
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser
from ninja.security import django_auth

from accounts.api import router as accounts_router
from accounts.api_auth import TokenAuth
from accounts.ratelimit import RateLimited
from approvals.api import router as approvals_router
from approvals.decisions import Conflict, Invalid
from builder.api import router as builder_router
from builder.child_publishing import PublishRefused
from builder.designer_api import router as designer_router
from builder.extraction import ExtractRefused
from builder.gate_api import router as gate_router
from builder.hook_api import router as hook_router
from builder.quality_api import router as quality_router
from builder.schedule_api import router as schedule_router
from builder.schedules import ScheduleInvalid
from builder.workflow_api import router as workflow_router
from config import unavailable
from costs.api import router as costs_router
from datasets.api import router as datasets_router
from datasets.batch_api import router as batches_router
from datasets.batches import BatchInvalid
from datasets.store import DatasetInvalid
from engine.graph import GraphInvalid
from engine.json_input import JsonRefused, parse
from engine.runs import RunRejected
from evals.api import router as evals_router
from evals.comparison_api import router as comparison_router
from evals.corrections_api import router as corrections_router
from evals.scorers import ScorerInvalid
from evals.sets import EvalSetInvalid
from integrations.mcp_api import router as mcp_server_router
from integrations.provider_api import router as provider_router
from integrations.secret_api import router as secret_router
from knowledge.api import router as knowledge_router
from knowledge.documents import DocumentInvalid
from monitoring.api import router as runs_router


class BodyParser(Parser):
    """Request bodies through the one depth-limited JSON parser; NUL refused in query and form values,
    which PostgreSQL cannot store or compare with a text column."""

    def parse_body(self, request: HttpRequest) -> Any:
        return parse(request.body)

    def parse_querydict(self, data: MultiValueDict[str, Any], list_fields: list[str], request: HttpRequest) -> Any:
        source = "query" if data is request.GET else "form"  # request.POST itself would parse a multipart body
        for key, values in data.lists():
            if any(isinstance(value, str) and "\x00" in value for value in [key, *values]):
                problem = {"loc": (source, key), "msg": "text cannot contain the NUL character (\\u0000)"}
                raise ValidationError([problem])
        return super().parse_querydict(data, list_fields, request)


api = NinjaAPI(
    title="Switchyard API",
    version="1",
    description=(
        "Design, run and review AI workflows. Programs authenticate with an API token "
        "(`Authorization: Bearer sy_…`); browser calls with the session cookie and the CSRF header."
    ),
    auth=[TokenAuth(), django_auth],
    urls_namespace="api",
    parser=BodyParser(),
)


def error_response(request: HttpRequest, status: int, code: str, message: str, details: Any = None) -> HttpResponse:
    body = {"error": {"code": code, "message": message, "details": details if details is not None else {}}}
    return api.create_response(request, body, status=status)


def _field_path(loc: Any) -> str:
    """`body.name` rather than ninja's `body.body.name` (its second part is the parameter's name)."""
    parts = [str(part) for part in loc]
    if len(parts) > 2 and parts[0] == "body" and parts[1] == "body":
        del parts[1]
    return ".".join(parts)


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    problems = [
        {"path": _field_path(error.get("loc", [])), "message": error.get("msg", "invalid")} for error in exc.errors
    ]
    fields = ", ".join(problem["path"] for problem in problems)
    return error_response(request, 422, "invalid_request", f"Invalid fields: {fields}", {"problems": problems})


@api.exception_handler(AuthenticationError)
def on_authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return error_response(request, 401, "not_authenticated", "Sign in or send a valid API token")


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if isinstance(exc.__cause__, JsonRefused):
        # ninja wraps every body parser error in a bare "Cannot parse request body"; the cause says why.
        return error_response(request, 400, "invalid_json", f"body: {exc.__cause__}")
    return error_response(request, exc.status_code, f"http_{exc.status_code}", str(exc))


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(request, 404, "not_found", str(exc) or "Not found")


@api.exception_handler(PermissionDenied)
def on_permission_denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return error_response(request, 403, "forbidden", str(exc) or "You may not do that")


@api.exception_handler(RequestDataTooBig)
def on_too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return error_response(request, 413, "too_large", f"The request body is over {limit} bytes", {"limit": limit})


@api.exception_handler(RateLimited)
def on_rate_limited(request: HttpRequest, exc: RateLimited) -> HttpResponse:
    response = error_response(request, 429, "rate_limited", str(exc), {"retry_after": exc.retry_after})
    response["Retry-After"] = str(exc.retry_after)
    return response


@api.exception_handler(RunRejected)
def on_run_rejected(request: HttpRequest, exc: RunRejected) -> HttpResponse:
    return error_response(request, 422, "run_rejected", str(exc), {"problems": exc.problems})


@api.exception_handler(PublishRefused)
def on_publish_refused(request: HttpRequest, exc: PublishRefused) -> HttpResponse:
    problems = [problem.as_dict() for problem in exc.problems]
    return error_response(request, 422, "invalid_graph", f"Nothing was published: {exc}", {"problems": problems})


@api.exception_handler(GraphInvalid)
def on_graph_invalid(request: HttpRequest, exc: GraphInvalid) -> HttpResponse:
    problems = [problem.as_dict() for problem in exc.problems]
    return error_response(request, 422, "invalid_graph", "The graph is invalid", {"problems": problems})


@api.exception_handler(Conflict)
def on_conflict(request: HttpRequest, exc: Conflict) -> HttpResponse:
    return error_response(request, 409, "conflict", str(exc))


@api.exception_handler(Invalid)
def on_invalid_decision(request: HttpRequest, exc: Invalid) -> HttpResponse:
    problems = [{"path": exc.field, "message": str(exc)}]
    return error_response(request, 422, "invalid_request", f"{exc.field}: {exc}", {"problems": problems})


@api.exception_handler(ExtractRefused)
def on_extract_refused(request: HttpRequest, exc: ExtractRefused) -> HttpResponse:
    problems = [{"path": exc.field, "message": str(exc)}]
    return error_response(request, 422, "invalid_request", f"Nothing was extracted: {exc}", {"problems": problems})


@api.exception_handler(ScheduleInvalid)
def on_schedule_invalid(request: HttpRequest, exc: ScheduleInvalid) -> HttpResponse:
    problems = [{"path": exc.field, "message": str(exc)}]
    return error_response(request, 422, "invalid_request", str(exc), {"problems": problems})


@api.exception_handler(DocumentInvalid)
def on_document_invalid(request: HttpRequest, exc: DocumentInvalid) -> HttpResponse:
    problems = [{"path": f"body.{exc.field}", "message": str(exc)}]
    return error_response(request, 422, "invalid_request", f"body.{exc.field}: {exc}", {"problems": problems})


@api.exception_handler(DatasetInvalid)
def on_dataset_invalid(request: HttpRequest, exc: DatasetInvalid) -> HttpResponse:
    """Each malformed row is a problem of its own, with the line of the file it is on."""
    problems = [{**problem, "path": f"body.{problem['path']}"} for problem in exc.problems]
    problems = problems or [{"path": f"body.{exc.field}", "message": str(exc)}]
    return error_response(request, 422, "invalid_request", f"body.{exc.field}: {exc}", {"problems": problems})


@api.exception_handler(BatchInvalid)
def on_batch_invalid(request: HttpRequest, exc: BatchInvalid) -> HttpResponse:
    """A row that does not match the workflow's input is a problem of its own, naming the row and the field."""
    problems = exc.problems or [{"path": f"body.{exc.field}", "message": str(exc)}]
    return error_response(request, 422, "invalid_request", f"body.{exc.field}: {exc}", {"problems": problems})


@api.exception_handler(EvalSetInvalid)
def on_eval_set_invalid(request: HttpRequest, exc: EvalSetInvalid) -> HttpResponse:
    """A row that does not match the workflow's input is a problem of its own, naming the row and the field."""
    problems = [{**problem, "path": f"body.{problem['path']}"} for problem in exc.problems]
    problems = problems or [{"path": f"body.{exc.field}", "message": str(exc)}]
    return error_response(request, 422, "invalid_request", f"body.{exc.field}: {exc}", {"problems": problems})


@api.exception_handler(ScorerInvalid)
def on_scorer_invalid(request: HttpRequest, exc: ScorerInvalid) -> HttpResponse:
    problems = [{"path": f"body.{exc.field}", "message": str(exc)}]
    return error_response(request, 422, "invalid_request", f"body.{exc.field}: {exc}", {"problems": problems})


def on_unavailable(request: HttpRequest, exc: Exception) -> HttpResponse:
    """503 with Retry-After while PostgreSQL or Redis is unavailable (config/unavailable.py), for every endpoint."""
    return unavailable.api_response(request, exc)


for unavailable_error in unavailable.ERRORS:
    api.exception_handler(unavailable_error)(on_unavailable)


api.add_router("/", accounts_router)
api.add_router("/", workflow_router)
api.add_router("/", hook_router)
api.add_router("/", schedule_router)
api.add_router("/", quality_router)
api.add_router("/", gate_router)
api.add_router("/", builder_router)
api.add_router("/", designer_router)
api.add_router("/", runs_router)
api.add_router("/", provider_router)
api.add_router("/", secret_router)
api.add_router("/", mcp_server_router)
api.add_router("/", approvals_router)
api.add_router("/", costs_router)
api.add_router("/", knowledge_router)
api.add_router("/", datasets_router)
api.add_router("/", batches_router)
api.add_router("/", evals_router)
api.add_router("/", comparison_router)
api.add_router("/", corrections_router)
