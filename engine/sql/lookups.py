"""The reads made on every model call: the price in force, the budgets that apply, a provider, billing facts.

A call's reads that do not depend on one another go in one round trip (`run_script`): a node
thread waits for a pooled connection before each of them, a hundred threads for a pool of
twenty in a wide fan-out.

Compiling these through the ORM took several times what running them does, on every model
call (bench/llm_fanout.py), so each is one prepared statement read into a partly loaded
model instance.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic

from django.db import connection

from accounts.models import Workspace
from engine.models import Budget, BudgetScope, ModelPrice, ProviderConfig, Run
from engine.sql.script import M, Outcome, Statement, converted, instance, run_script, stored


@dataclass(frozen=True)
class Tree:
    """A child run's tree (engine/runs/children.py): its top run and that run's workflow."""

    root_run_id: int
    root_workflow_id: int | None


# What billing a call copies from its run onto the cost entry.
BILLING_FACTS = ("workspace_id", "workflow_id", "workflow_name", "version_number", "trigger_kind", "is_test", "purpose")


@dataclass(frozen=True)
class _Select(Generic[M]):
    """One read of `model`'s rows: its statement, and the fields its columns load."""

    model: type[M]
    names: list[str]
    statement: Statement

    def instances(self, found: Outcome) -> list[M]:
        return [instance(self.model, converted(self.model, self.names, row)) for row in found.rows]

    def read(self) -> list[M]:
        """The rows, read alone in a round trip of their own."""
        [found] = run_script([self.statement])
        return self.instances(found)


def _select(
    model: type[M], where: str, params: Mapping[str, Any], tail: str = "", only: Sequence[str] = ()
) -> _Select[M]:
    """Rows of `model` matching `where` (`only` those fields and the pk, if given)."""
    fields = [f for f in model._meta.concrete_fields if not only or f.attname in only or f.primary_key]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    sql = f"SELECT {columns} FROM {model._meta.db_table} WHERE {where} {tail}"  # noqa: S608
    return _Select(model, [f.attname for f in fields], (sql, params))


def _read(model: type[M], where: str, params: Mapping[str, Any], tail: str = "", only: Sequence[str] = ()) -> list[M]:
    """Rows of `model` matching `where` (`only` those fields and the pk, if given), as partly loaded instances."""
    return _select(model, where, params, tail, only).read()


def price(workspace_id: int, provider_kind: str, model: str, at: datetime) -> ModelPrice | None:
    """The price in force at `at`: the workspace's own if it set one, else the global one."""
    return next(iter(_price(workspace_id, provider_kind, model, at).read()), None)


def _price(workspace_id: int, provider_kind: str, model: str, at: datetime) -> _Select[ModelPrice]:
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
    return _select(ModelPrice, where, params, "ORDER BY workspace_id IS NULL, effective_from DESC LIMIT 1")


def billing_facts(run_id: int) -> Run | None:
    """The run with only its BILLING_FACTS loaded, if it exists."""
    return next(iter(_billing_facts(run_id).read()), None)


def _billing_facts(run_id: int) -> _Select[Run]:
    return _select(Run, "id = %(id)s", {"id": run_id}, only=BILLING_FACTS)


@dataclass(frozen=True)
class CallFacts:
    """What a model call reads before it is made, in one round trip (`call_facts`)."""

    price: ModelPrice | None
    budgets: list[Budget]
    tree: Tree | None
    run: Run | None  # its BILLING_FACTS
    # The provider asked for and the workspace's allowlist, as `provider_config` gives them, if asked.
    provider: tuple[ProviderConfig | None, list[str]] | None = None


def call_facts(
    workspace_id: int,
    workflow_id: int | None,
    run_id: int,
    provider_kind: str,
    model: str,
    at: datetime,
    provider: str | None = None,
) -> CallFacts:
    """The price in force at `at`, the workflow's `budgets`, the run's tree and its billing facts;
    and, when named, the `provider`'s configuration with the workspace's allowlist (`provider_config`)."""
    prices, budgets, facts = (
        _price(workspace_id, provider_kind, model, at),
        _budgets(workspace_id, workflow_id),
        _billing_facts(run_id),
    )
    reads = _provider_reads(workspace_id, provider) if provider is not None else None
    found = run_script(
        [prices.statement, budgets.statement, _tree(run_id), facts.statement, *(s.statement for s in reads or ())]
    )
    price_rows, budget_rows, tree, fact_rows = found[:4]
    return CallFacts(
        price=next(iter(prices.instances(price_rows)), None),
        budgets=budgets.instances(budget_rows),
        tree=Tree(*tree.rows[0]) if tree.rows else None,
        run=next(iter(facts.instances(fact_rows)), None),
        provider=_provider_found(reads, found[4], found[5]) if reads is not None else None,
    )


def budgets(workspace_id: int, workflow_id: int | None) -> list[Budget]:
    """The workspace's monthly budget, its workflow's, and its per-run budgets (all runs, or this workflow's)."""
    return _budgets(workspace_id, workflow_id).read()


def budgets_in_tree(workspace_id: int, workflow_id: int | None, run_id: int) -> tuple[list[Budget], Tree | None]:
    """`budgets` of the workflow, and the run's tree when it is a child run: one round trip."""
    select = _budgets(workspace_id, workflow_id)
    found, tree = run_script([select.statement, _tree(run_id)])
    return select.instances(found), Tree(*tree.rows[0]) if tree.rows else None


def _tree(run_id: int) -> Statement:
    """The run's top run and that run's workflow: one row when it is a child run, none otherwise."""
    sql = (
        f"SELECT run.root_run_id, root.workflow_id FROM {Run._meta.db_table} run "  # noqa: S608
        f"JOIN {Run._meta.db_table} root ON root.id = run.root_run_id WHERE run.id = %(id)s"
    )
    return sql, {"id": run_id}


def _budgets(workspace_id: int, workflow_id: int | None) -> _Select[Budget]:
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
    return _select(Budget, where, params, "ORDER BY id")


def provider_config(workspace_id: int, name: str) -> tuple[ProviderConfig | None, list[str]]:
    """The workspace's provider called `name`, if there is one, and the workspace's outbound allowlist
    (Settings → Network) its calls pass: one round trip."""
    reads = _provider_reads(workspace_id, name)
    configs, workspaces = run_script([select.statement for select in reads])
    return _provider_found(reads, configs, workspaces)


def _provider_reads(workspace_id: int, name: str) -> tuple[_Select[ProviderConfig], _Select[Workspace]]:
    config = _select(
        ProviderConfig,
        "workspace_id = %(workspace_id)s AND name = %(name)s",
        {"workspace_id": workspace_id, "name": name},
        "LIMIT 1",
    )
    return config, _select(Workspace, "id = %(id)s", {"id": workspace_id}, only=("http_allowlist",))


def _provider_found(
    reads: tuple[_Select[ProviderConfig], _Select[Workspace]], configs: Outcome, workspaces: Outcome
) -> tuple[ProviderConfig | None, list[str]]:
    config, allowlist = reads
    [workspace] = allowlist.instances(workspaces)
    found = config.instances(configs)
    return (found[0] if found else None), list(workspace.http_allowlist)
