"""Billing model calls: the price at the time of the call, one entry per call, the rollups.

`record` is the only writer of CostEntry and CostDaily. It is idempotent per
(run, node, attempt, call): a redelivered task that records the same call again changes
nothing, so totals never count a call twice. `record_estimate` bills a call whose outcome
is unknown (its worker died mid-call) at its budget reservation, marked `estimated`; it
takes the call's place, so a late answer to the same call is not billed again.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from types import EllipsisType
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from engine import metrics
from engine.models import CostDaily, CostEntry, ModelPrice, NodeRun, Run
from engine.models.costs import ROLLUP_DIMENSIONS
from engine.sql import bills, lookups
from engine.sql.script import run_script

MILLION = Decimal(1_000_000)
PLACES = Decimal("0.000001")


@dataclass(frozen=True)
class Call:
    """One model call as the provider reported it."""

    provider: str
    provider_kind: str
    model: str
    tokens_in: int
    tokens_out: int
    cached: bool = False
    latency_ms: int = 0


def price_for(workspace_id: int, provider_kind: str, model: str, at: datetime) -> ModelPrice | None:
    """The price in force at `at`: the workspace's own if it set one, else the global one."""
    return lookups.price(workspace_id, provider_kind, model, at)


def cost_of(price: ModelPrice | None, tokens_in: int, tokens_out: int) -> Decimal:
    if price is None:
        return Decimal(0)
    amount = (tokens_in * price.input_per_million + tokens_out * price.output_per_million) / MILLION
    return amount.quantize(PLACES)


def record(
    run_id: int,
    node_id: str,
    node_type: str,
    attempt: int,
    call: Call,
    index: int = 0,
    price: ModelPrice | EllipsisType | None = ...,
    facts: Run | None = None,
) -> CostEntry | None:
    """Bill one call of one node attempt; None when this call was billed already.

    `price` is the one the caller found in force for this call (price_for), if it looked;
    otherwise it is looked up here. `facts`: the run's billing facts, if the caller read them
    (lookups.call_facts); they do not change while the run lives.
    """
    run_row = facts if facts is not None else lookups.billing_facts(run_id)
    if run_row is None:
        raise Run.DoesNotExist(f"run {run_id} does not exist")
    now = timezone.now()
    if isinstance(price, EllipsisType):
        price = price_for(run_row.workspace_id, call.provider_kind, call.model, now)
    full = cost_of(price, call.tokens_in, call.tokens_out)
    entry = CostEntry(
        workspace_id=run_row.workspace_id,
        run_id=run_id,
        node_id=node_id,
        node_type=node_type,
        attempt=attempt,
        call=index,
        workflow_id=run_row.workflow_id,
        workflow_name=run_row.workflow_name,
        version_number=run_row.version_number,
        trigger_kind=run_row.trigger_kind,
        is_test=run_row.is_test,
        purpose=run_row.purpose,
        provider=call.provider,
        provider_kind=call.provider_kind,
        model=call.model,
        tokens_in=call.tokens_in,
        tokens_out=call.tokens_out,
        cost=Decimal(0) if call.cached else full,
        cached=call.cached,
        saved=full if call.cached else Decimal(0),
        price=price,
        latency_ms=call.latency_ms,
        created_at=now,
    )
    return entry if _insert(entry) else None


def record_estimate(run_id: int, node_id: str, attempt: int, bill: dict[str, Any], amount: Decimal) -> Decimal:
    """Bill a call whose outcome is unknown at `amount`, its reservation; what it adds to the bill.

    When the call was billed already (its worker died after billing it), that bill stands and
    its cost is returned instead.
    """
    run_row = lookups.billing_facts(run_id)
    if run_row is None:
        return Decimal(0)
    index = int(bill.get("call", 0))
    entry = CostEntry(
        workspace_id=run_row.workspace_id,
        run_id=run_id,
        node_id=node_id,
        node_type=bill.get("node_type", ""),
        attempt=attempt,
        call=index,
        workflow_id=run_row.workflow_id,
        workflow_name=run_row.workflow_name,
        version_number=run_row.version_number,
        trigger_kind=run_row.trigger_kind,
        is_test=run_row.is_test,
        purpose=run_row.purpose,
        provider=bill.get("provider", ""),
        provider_kind=bill.get("provider_kind", ""),
        model=bill.get("model", ""),
        cost=amount,
        estimated=True,
        created_at=timezone.now(),
    )
    if _insert(entry):
        return amount
    billed = CostEntry.objects.filter(run_id=run_id, node_id=node_id, attempt=attempt, call=index)
    return billed.values_list("cost", flat=True).first() or Decimal(0)


def _insert(entry: CostEntry) -> bool:
    """Save the entry and add it to its node, run and day; False when its call has an entry already."""
    if connection.vendor == "postgresql":
        [inserted] = run_script([bills.bill(entry, timezone.localdate(entry.created_at))])
        if not inserted.rows:
            return False
        entry.pk = inserted.rows[0][0]
        entry._state.adding = False
        entry._state.db = connection.alias
        transaction.on_commit(_count(entry))
        return True
    try:
        with transaction.atomic():
            entry.save(force_insert=True)
            transaction.on_commit(_count(entry))
            if entry.cost:
                NodeRun.objects.filter(run_id=entry.run_id, node_id=entry.node_id).update(cost=F("cost") + entry.cost)
                Run.objects.filter(pk=entry.run_id).update(cost=F("cost") + entry.cost)
            # Last: every call of a day shares the rollup row, whose lock is held until COMMIT.
            _add_to_rollup(entry)
    except IntegrityError:
        one_call = {"run_id": entry.run_id, "node_id": entry.node_id, "attempt": entry.attempt, "call": entry.call}
        if CostEntry.objects.filter(**one_call).exists():
            return False
        raise
    return True


def _count(entry: CostEntry) -> Callable[[], None]:
    """The entry's call counted in the process's metrics (once its bill is committed)."""
    return lambda: metrics.count_model_call(
        entry.provider_kind, entry.model, entry.tokens_in, entry.tokens_out, entry.cost
    )


# ON CONFLICT names the unique key's columns, as the model declares them.
_DIMENSIONS = [field.column for field in CostDaily._meta.concrete_fields if field.name in ROLLUP_DIMENSIONS]


def _add_to_rollup(entry: CostEntry) -> None:
    """Upsert the entry's day row: one statement, so concurrent writers add rather than overwrite."""
    values: dict[str, Any] = {
        "workspace_id": entry.workspace_id,
        "day": timezone.localdate(entry.created_at),
        "workflow_id": entry.workflow_id or 0,
        "workflow_name": entry.workflow_name,
        "version_number": entry.version_number or 0,
        "node_id": entry.node_id,
        "node_type": entry.node_type,
        "trigger_kind": entry.trigger_kind,
        "provider": entry.provider,
        "provider_kind": entry.provider_kind,
        "model": entry.model,
        "calls": 1,
        "cached_calls": int(entry.cached),
        "tokens_in": entry.tokens_in,
        "tokens_out": entry.tokens_out,
        "cost": entry.cost,
        "saved": entry.saved,
    }
    table = CostDaily._meta.db_table
    columns = ", ".join(values)
    placeholders = ", ".join(["%s"] * len(values))
    sums = ", ".join(f"{name} = {table}.{name} + excluded.{name}" for name in bills.SUMS)
    # Identifiers come from the model's own metadata above; every value is a parameter.
    sql = (
        f"INSERT INTO {table} ({columns}) VALUES ({placeholders}) "  # noqa: S608
        f"ON CONFLICT ({', '.join(_DIMENSIONS)}) DO UPDATE SET {sums}, workflow_name = excluded.workflow_name"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, list(values.values()))
