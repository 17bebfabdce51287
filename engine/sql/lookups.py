"""The reads made on every model call: the price in force, the budgets that apply, a provider, billing facts.

Compiling these through the ORM took several times what running them does, on every model
call (bench/llm_fanout.py), so each is one prepared statement read into a partly loaded
model instance.
"""

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db import connection

from accounts.models import Workspace
from engine.models import Budget, BudgetScope, ModelPrice, ProviderConfig, Run
from engine.sql.script import M, converted, instance, run_script, stored

# What billing a call copies from its run onto the cost entry.
BILLING_FACTS = ("workspace_id", "workflow_id", "workflow_name", "version_number", "trigger_kind", "is_test", "purpose")


def _read(model: type[M], where: str, params: Mapping[str, Any], tail: str = "", only: Sequence[str] = ()) -> list[M]:
    """Rows of `model` matching `where` (`only` those fields and the pk, if given), as partly loaded instances."""
    fields = [f for f in model._meta.concrete_fields if not only or f.attname in only or f.primary_key]
    names = [f.attname for f in fields]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    sql = f"SELECT {columns} FROM {model._meta.db_table} WHERE {where} {tail}"  # noqa: S608
    [found] = run_script([(sql, params)])
    return [instance(model, converted(model, names, row)) for row in found.rows]


def price(workspace_id: int, provider_kind: str, model: str, at: datetime) -> ModelPrice | None:
    """The price in force at `at`: the workspace's own if it set one, else the global one."""
    where = (
        "(workspace_id = %(workspace_id)s OR workspace_id IS NULL) AND provider_kind = %(kind)s "
        "AND model = %(model)s AND effective_from <= %(at)s"
    )
    params = {
        "workspace_id": workspace_id,
        "kind": provider_kind,
        "model": model,
        "at": stored(ModelPrice, "effective_from", at),
    }
    found = _read(ModelPrice, where, params, "ORDER BY workspace_id IS NULL, effective_from DESC LIMIT 1")
    return found[0] if found else None


def billing_facts(run_id: int) -> Run | None:
    """The run with only its BILLING_FACTS loaded, if it exists."""
    found = _read(Run, "id = %(id)s", {"id": run_id}, only=BILLING_FACTS)
    return found[0] if found else None


def budgets(workspace_id: int, workflow_id: int | None) -> list[Budget]:
    """The workspace's monthly budget, its workflow's, and its per-run budgets (all runs, or this workflow's)."""
    where = (
        "workspace_id = %(workspace_id)s AND (scope = %(workspace_month)s "
        "OR (scope = %(workflow_month)s AND workflow_id = %(workflow_id)s) "
        "OR (scope = %(run)s AND (workflow_id IS NULL OR workflow_id = %(workflow_id)s)))"
    )
    params = {
        "workspace_id": workspace_id,
        "workflow_id": workflow_id,
        "workspace_month": BudgetScope.WORKSPACE_MONTH,
        "workflow_month": BudgetScope.WORKFLOW_MONTH,
        "run": BudgetScope.RUN,
    }
    return _read(Budget, where, params, "ORDER BY id")


def provider_config(workspace_id: int, name: str) -> ProviderConfig | None:
    """The workspace's provider called `name`, if there is one."""
    found = _read(
        ProviderConfig,
        "workspace_id = %(workspace_id)s AND name = %(name)s",
        {"workspace_id": workspace_id, "name": name},
        "LIMIT 1",
    )
    return found[0] if found else None


def http_allowlist(workspace_id: int) -> list[str]:
    """The workspace's outbound allowlist (Settings → Network)."""
    [workspace] = _read(Workspace, "id = %(id)s", {"id": workspace_id}, only=("http_allowlist",))
    return list(workspace.http_allowlist)
