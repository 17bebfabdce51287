"""What the API trigger reads with its token: the workflow, the caller's role there, the latest version's id and
number (not its graph: a process reads that once, the first time it runs the version, graphs.of_version).

A trigger otherwise makes three reads before its start (the token, the workflow with the
role, the version), each a round trip and an ORM compile (docs/benchmarks.md, "API trigger
throughput"). Its token authentication reads them with the token in one statement of SQL
(`with_workflow`), prepared once per connection: building and compiling the same query
through the ORM, six subqueries, cost more of the web process's CPU than anything else on
the trigger's path. The view then checks them as `get_for` would (`workflow`).
"""

from functools import cache
from typing import Any, TypeVar

from django.contrib.auth.models import User
from django.db import connection
from django.db.models import Model
from django.http import HttpRequest

from accounts.models import ApiToken, Membership, Workspace
from accounts.permissions import Action, checked
from accounts.tokens import Read
from builder.models import Workflow, WorkflowVersion
from engine.sql.script import converted, instance, run_script

M = TypeVar("M", bound=Model)

# The workflow's columns a start reads (versions.run_version); the others stay deferred.
WORKFLOW_FIELDS = ("name", "completion_url")
# Read with the token, as attributes of the token named trigger_<name>: (model, field, name, column).
EXTRA = (
    (Workflow, "id", "workflow_id", "wf.id"),
    *((Workflow, name, name, f"wf.{name}") for name in WORKFLOW_FIELDS),
    (Membership, "role", "role", "m.role"),
    (WorkflowVersion, "id", "latest_id", "v.id"),
    (WorkflowVersion, "number", "latest_number", "v.number"),
)
# Each row starts with a token, its user, its workspace (in this order, as _token takes them): every column,
# as select_related reads them.
LOADED: tuple[tuple[type[Model], str], ...] = ((ApiToken, "t"), (User, "u"), (Workspace, "ws"))


def _names(model: type[Model]) -> list[str]:
    return [field.attname for field in model._meta.concrete_fields]


@cache
def _sql() -> str:
    """The token of %(prefix)s with its user and workspace, then EXTRA for workflow %(workflow_id)s (NULLs when
    it is not a live workflow of the token's workspace, the user has no role there, or nothing is published)."""
    loaded = [f"{alias}.{field.column}" for model, alias in LOADED for field in model._meta.concrete_fields]
    columns = ", ".join([*loaded, *(column for *_, column in EXTRA)])
    return f"""
        SELECT {columns}
        FROM accounts_apitoken t
        JOIN auth_user u ON u.id = t.user_id
        JOIN accounts_workspace ws ON ws.id = t.workspace_id
        LEFT JOIN builder_workflow wf
            ON wf.id = %(workflow_id)s AND wf.workspace_id = t.workspace_id AND wf.archived_at IS NULL
        LEFT JOIN accounts_membership m ON m.workspace_id = t.workspace_id AND m.user_id = t.user_id
        LEFT JOIN builder_workflowversion v ON v.workflow_id = wf.id
            AND v.number = (SELECT MAX(x.number) FROM builder_workflowversion x WHERE x.workflow_id = wf.id)
        WHERE t.prefix = %(prefix)s
    """  # noqa: S608  (column names of our models)


def with_workflow(request: HttpRequest) -> Read | None:
    """How to read a token with the path's workflow (if live and in the token's workspace), its latest version
    and the token user's role there; None (the plain read) when the path's id is not a plain id."""
    # The path's parameter as the URL captured it (a string): ninja validates it only after authentication.
    # Anything but a plain id that fits a bigint is left to the view's own lookup (get_for) and its answers.
    match = request.resolver_match
    captured = str(match.kwargs.get("workflow_id", "")) if match else ""
    if not (captured.isascii() and captured.isdigit() and len(captured) <= 18):
        return None
    workflow_id = int(captured)

    def read(prefix: str) -> ApiToken | None:
        rows = run_script([(_sql(), {"prefix": prefix, "workflow_id": workflow_id})])[0].rows
        return _token(rows[0]) if rows else None

    return read


def _token(row: tuple[Any, ...]) -> ApiToken:
    at = 0

    def take(model: type[M]) -> M:
        nonlocal at
        names = _names(model)
        at += len(names)
        return instance(model, converted(model, names, row[at - len(names) : at]))

    token, user, workspace = take(ApiToken), take(User), take(Workspace)
    token.user, token.workspace = user, workspace
    for (model, name, attribute, _), value in zip(EXTRA, row[at:], strict=True):
        setattr(token, f"trigger_{attribute}", converted(model, [name], [value])[name])
    return token


def workflow(request: HttpRequest, workflow_id: int) -> Workflow | None:
    """The workflow `with_workflow` read, checked for EDIT (404, 403 as get_for), with with_latest's annotations;
    None when the request did not come with a token read that way (a session): the caller uses get_for."""
    token: Any = getattr(request, "auth", None)
    if not isinstance(token, ApiToken) or not hasattr(token, "trigger_role"):
        return None
    found = None
    if getattr(token, "trigger_workflow_id", None) == workflow_id:
        values = [workflow_id, token.workspace_id, *(getattr(token, f"trigger_{name}") for name in WORKFLOW_FIELDS)]
        found = Workflow.from_db(connection.alias, ["id", "workspace_id", *WORKFLOW_FIELDS], values)
        found.latest_id = token.trigger_latest_id  # type: ignore[attr-defined]
        found.latest_number = token.trigger_latest_number  # type: ignore[attr-defined]
    return checked(found, token.trigger_role, Action.EDIT, Workflow)
