"""Budgets enforced around each model call: reserve an estimate first, settle the actual after.

Every budget that applies to a call (this run, this workflow this month, the workspace this
month) has one BudgetSpend row per period. Reserving locks those rows (in id order, so two
calls never deadlock) and refuses the call if spent + reserved + estimate would pass the
limit; concurrent calls therefore see each other's reservations, and since the estimate
counts the prompt's tokens plus the node's max output tokens, a budget is overspent by at
most the one call whose actual usage ran past its estimate.
Each reservation is also kept as BudgetHold rows naming the node attempt and call that made
it (one hold without a spend row when no budget applies). A worker killed mid-call leaves
them behind with the call's outcome unknown: the provider may have answered and charged. The
reaper (charge_orphans) then bills the call at its reservation, as a cost entry marked
estimated, and moves the reservation from reserved to spent, so recorded spend never falls
short of what a provider bills; a late answer to that call bills nothing more.
Crossing a budget's alert_percent emits a run event, a workspace live message and an email
to the owners, once per budget per period.
"""

import logging
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import send_mass_mail
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.db.models.functions import Greatest
from django.utils import timezone

from accounts.models import Membership, Role
from engine import costs, live, metrics
from engine.errors import NonRetryableError
from engine.event_types import EventType, LiveMessage
from engine.models import Budget, BudgetHold, BudgetScope, BudgetSpend, NodeRun, NodeStatus, Run
from engine.sql import lookups

log = logging.getLogger(__name__)
# Holds given back per reaper tick at most; the rest wait for the next tick.
ORPHANS_PER_SWEEP = 500


class BudgetExceeded(NonRetryableError):
    code = "budget_exceeded"


@dataclass(frozen=True)
class Scope:
    """What a call is charged to (workspace, workflow, run), and the node attempt that makes it."""

    workspace_id: int
    workflow_id: int | None
    run_id: int
    node_id: str
    attempt: int
    # A child run's tree (engine/runs/children.py): its top run and that run's workflow. Per-run
    # budgets count the whole tree, so a parent's budget bounds every child's calls too.
    root_run_id: int | None = None
    root_workflow_id: int | None = None


@dataclass
class Reservation:
    scope: Scope
    spend_ids: list[int]
    hold_ids: list[int]
    amount: Decimal


def period_of(budget: Budget, scope: Scope, now: datetime) -> str:
    if budget.scope == BudgetScope.RUN:
        return f"run:{scope.root_run_id or scope.run_id}"
    return month_period(now)


def month_period(now: datetime) -> str:
    """The BudgetSpend period of a monthly budget at `now`: the calendar month in the server's time zone."""
    return timezone.localtime(now).strftime("%Y-%m")


def held(budget: Budget, now: datetime) -> Decimal:
    """What calls in flight hold of a monthly budget now (0 for run budgets, which hold per run)."""
    if budget.scope == BudgetScope.RUN:
        return Decimal(0)
    found = BudgetSpend.objects.filter(budget=budget, period=month_period(now)).values_list("reserved", flat=True)
    return found.first() or Decimal(0)


def applicable(scope: Scope, found: list[Budget] | None = None) -> list[Budget]:
    """The workspace's monthly budget, its workflow's, and its per-run budgets (all runs, or this workflow's).

    In a child run, the per-run budgets of its tree's top run's workflow apply too. `found`:
    the workflow's own (lookups.budgets), if they were read already.
    """
    if found is None:
        found = lookups.budgets(scope.workspace_id, scope.workflow_id)
    if scope.root_run_id is None or scope.root_workflow_id == scope.workflow_id:
        return found
    ids = {budget.pk for budget in found}
    above = lookups.budgets(scope.workspace_id, scope.root_workflow_id)
    return sorted([*found, *(b for b in above if b.scope == BudgetScope.RUN and b.pk not in ids)], key=lambda b: b.pk)


def _tree_budgets(workspace_id: int, root_run_id: int) -> list[Budget]:
    root_workflow_id = Run.objects.values_list("workflow_id", flat=True).get(pk=root_run_id)
    return [b for b in lookups.budgets(workspace_id, root_workflow_id) if b.scope == BudgetScope.RUN]


def tree_budgeted(workspace_id: int, root_run_id: int) -> bool:
    """Whether per-run budgets bound the tree under `root_run_id`."""
    return bool(_tree_budgets(workspace_id, root_run_id))


def tree_spent(workspace_id: int, root_run_id: int) -> str | None:
    """Why no more child runs may start under `root_run_id`: a per-run budget of the tree that is used up, or None."""
    run_budgets = _tree_budgets(workspace_id, root_run_id)
    if not run_budgets:
        return None
    spends = BudgetSpend.objects.filter(budget__in=run_budgets, period=f"run:{root_run_id}").select_related("budget")
    for spend in spends:
        if spend.spent + spend.reserved >= spend.budget.limit:
            name, limit = spend.budget.name, spend.budget.limit
            return f'Budget "{name}" (each run, ${limit}) is spent: ${spend.spent} of the run and its child runs'
    return None


def reserve(
    scope: Scope, estimate: Decimal, bill: dict[str, Any] | None = None, known: lookups.CallFacts | None = None
) -> Reservation:
    """Hold `estimate` against every applicable budget, or raise BudgetExceeded naming the first that refuses.

    `bill` (call number, node type, provider, model) is kept on the holds for an estimated
    bill if the call's worker dies; with no budget, a call that may cost something still
    leaves one hold for that. `known`: the call's facts (lookups.call_facts), if it read them already.
    """
    if known is not None:
        found, tree = known.budgets, known.tree
    else:
        # The workflow's budgets and the run's tree are read together: one round trip on every call.
        found, tree = lookups.budgets_in_tree(scope.workspace_id, scope.workflow_id, scope.run_id)
    if tree is not None:
        scope = replace(scope, root_run_id=tree.root_run_id, root_workflow_id=tree.root_workflow_id)
    budgets = applicable(scope, found)
    now = timezone.now()
    if not budgets:
        if not estimate or bill is None:
            return Reservation(scope, [], [], estimate)
        alone = BudgetHold.objects.create(
            spend=None,
            run_id=scope.run_id,
            node_id=scope.node_id,
            attempt=scope.attempt,
            amount=estimate,
            created_at=now,
            bill=bill,
        )
        return Reservation(scope, [], [alone.pk], estimate)
    wanted = [BudgetSpend(budget=budget, period=period_of(budget, scope, now)) for budget in budgets]
    with transaction.atomic():
        BudgetSpend.objects.bulk_create(wanted, ignore_conflicts=True)
        keys = Q()
        for spend in wanted:
            keys |= Q(budget_id=spend.budget.pk, period=spend.period)
        rows = list(BudgetSpend.objects.select_for_update().filter(keys).select_related("budget").order_by("pk"))
        for row in rows:
            if row.spent + row.reserved + estimate > row.budget.limit:
                metrics.budget_refusals.inc()
                raise BudgetExceeded(
                    f'Budget "{row.budget.name}" ({row.budget.get_scope_display().lower()}, '
                    f"${row.budget.limit}) would be exceeded: ${row.spent} spent, ${row.reserved} reserved, "
                    f"this call needs up to ${estimate}",
                    budget=row.budget.name,
                    budget_id=row.budget.pk,
                )
        BudgetSpend.objects.filter(pk__in=[row.pk for row in rows]).update(reserved=F("reserved") + estimate)
        holds = BudgetHold.objects.bulk_create(
            BudgetHold(
                spend=row,
                run_id=scope.run_id,
                node_id=scope.node_id,
                attempt=scope.attempt,
                amount=estimate,
                created_at=now,
                bill=bill or {},
            )
            for row in rows
        )
    return Reservation(scope, [row.pk for row in rows], [hold.pk for hold in holds], estimate)


def settle(reservation: Reservation, actual: Decimal) -> None:
    """Replace the reservation by what the call cost; alert on budgets that crossed their threshold.

    When none of the reservation's holds is left, the call was charged already: the reaper,
    taking this worker for dead, billed it at its reservation (charge_orphans), or an earlier
    try of this settle committed before its connection was lost. Nothing more is charged.
    """
    if not reservation.hold_ids:
        return
    crossed: list[BudgetSpend] = []
    with transaction.atomic():
        rows = _locked(reservation.spend_ids)
        held, deleted = _delete_holds(reservation.hold_ids)
        if not deleted:
            return
        for row in rows:
            row.reserved = max(Decimal(0), row.reserved - held.get(row.pk, Decimal(0)))
            row.spent += actual
            row.calls += 1
            threshold = row.budget.limit * row.budget.alert_percent / 100
            if row.alerted_at is None and row.spent >= threshold and actual > 0:
                row.alerted_at = timezone.now()
                crossed.append(row)
            row.save(update_fields=["reserved", "spent", "calls", "alerted_at"])
    for row in crossed:
        _alert(row, reservation.scope)


def release(reservation: Reservation) -> None:
    """The call was not made or not answered: give the reservation back."""
    if reservation.hold_ids:
        _give_back(reservation.spend_ids, reservation.hold_ids)


def charge_orphans(older_than: datetime) -> int:
    """Bill, at their reservation, the model calls whose node attempt is no longer running; how many.

    Such a call's worker died, or lost its lease, before it could settle, so whether the
    provider answered (and charged) is unknown: the call is billed at its reservation as an
    estimated cost entry (or at its own bill, if it was billed before the worker died), and
    its budgets are charged the same. Only holds made before `older_than` are looked at, so
    that a sweep never races the transaction that is still creating a hold beside its node's
    claim.
    """
    running = NodeRun.objects.filter(
        run_id=OuterRef("run_id"), node_id=OuterRef("node_id"), attempt=OuterRef("attempt"), status=NodeStatus.RUNNING
    )
    orphans = list(
        BudgetHold.objects.filter(created_at__lt=older_than)
        .exclude(Exists(running))
        .values_list("pk", "spend_id", "run_id", "node_id", "attempt", "amount", "bill")[:ORPHANS_PER_SWEEP]
    )
    calls: dict[tuple[int, str, int, int], list[tuple[int, int | None, Decimal, dict[str, Any]]]] = {}
    for pk, spend_id, run_id, node_id, attempt, amount, bill in orphans:
        calls.setdefault((run_id, node_id, attempt, int(bill.get("call", 0))), []).append((pk, spend_id, amount, bill))
    charged = 0
    for (run_id, node_id, attempt, _), holds in calls.items():
        charged += _charge_unknown(run_id, node_id, attempt, holds)
    if charged:
        log.info("billed %d model calls whose worker is gone at their reservation", charged)
    return charged


def _charge_unknown(
    run_id: int, node_id: str, attempt: int, holds: list[tuple[int, int | None, Decimal, dict[str, Any]]]
) -> int:
    """Bill one call of unknown outcome and charge its budgets, once: 1 if this sweep did it."""
    spend_ids = [spend_id for _, spend_id, _, _ in holds if spend_id is not None]
    _, _, amount, bill = holds[0]
    with transaction.atomic():
        rows = _locked(spend_ids)
        held, deleted = _delete_holds([pk for pk, _, _, _ in holds])
        if not deleted:
            return 0
        cost = costs.record_estimate(run_id, node_id, attempt, bill, amount)
        for row in rows:
            row.reserved = max(Decimal(0), row.reserved - held.get(row.pk, Decimal(0)))
            row.spent += cost
            row.calls += 1
            row.save(update_fields=["reserved", "spent", "calls"])
    return 1


def _locked(spend_ids: list[int]) -> list[BudgetSpend]:
    """The spend rows, locked in id order: every writer of a row's holds holds its lock first, so no
    two of them can give the same hold back, and two calls never deadlock."""
    rows = BudgetSpend.objects.select_for_update().filter(pk__in=spend_ids).select_related("budget")
    return list(rows.order_by("pk"))


def _delete_holds(hold_ids: list[int]) -> tuple[dict[int | None, Decimal], int]:
    """Delete those of these holds still there (their rows locked): the amount each spend row held, and how many."""
    held: dict[int | None, Decimal] = {}
    found = BudgetHold.objects.filter(pk__in=hold_ids)
    for spend_id, amount in found.values_list("spend_id", "amount"):
        held[spend_id] = held.get(spend_id, Decimal(0)) + amount
    deleted, _ = found.delete()
    return held, deleted


def _give_back(spend_ids: list[int], hold_ids: list[int]) -> int:
    """Take the holds still there off their rows' reserved amounts; how many holds that was."""
    with transaction.atomic():
        _locked(spend_ids)
        held, deleted = _delete_holds(hold_ids)
        for spend_id, amount in held.items():
            if spend_id is None:
                continue
            BudgetSpend.objects.filter(pk=spend_id).update(reserved=Greatest(F("reserved") - amount, Decimal(0)))
    return deleted


def _alert(row: BudgetSpend, scope: Scope) -> None:
    from engine.events import change

    budget = row.budget
    facts = {
        "budget": budget.name,
        "budget_id": budget.pk,
        "scope": budget.scope,
        "period": row.period,
        "limit": str(budget.limit),
        "spent": str(row.spent),
        "alert_percent": budget.alert_percent,
    }
    with change(scope.run_id) as step:
        step.event(EventType.BUDGET_ALERT, scope.node_id, **facts)
    live.to_workspace(scope.workspace_id, {"type": LiveMessage.BUDGET_ALERT.value, **facts})
    _email_owners(row, scope)


def _email_owners(row: BudgetSpend, scope: Scope) -> None:
    budget = row.budget
    owners = Membership.objects.filter(workspace_id=scope.workspace_id, role=Role.OWNER).values("user_id")
    addresses = User.objects.filter(pk__in=owners, is_active=True).exclude(email="").values_list("email", flat=True)
    subject = f"Budget {budget.name} passed {budget.alert_percent}%"
    body = (
        f'The budget "{budget.name}" ({budget.get_scope_display().lower()}) has spent ${row.spent} '
        f"of ${budget.limit} in {row.period}.\nModel calls that would exceed it will fail.\n"
    )
    messages = [(subject, body, settings.DEFAULT_FROM_EMAIL, [address]) for address in addresses]
    try:
        send_mass_mail(messages, fail_silently=False)
    except OSError:
        log.exception("could not email the owners about budget %s", budget.pk)
