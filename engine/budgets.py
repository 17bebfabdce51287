"""Budgets enforced around each model call: reserve an estimate first, settle the actual after.

Every budget that applies to a call (this run, this workflow this month, the workspace this
month) has one BudgetSpend row per period. Reserving locks those rows (in id order, so two
calls never deadlock) and refuses the call if spent + reserved + estimate would pass the
limit; concurrent calls therefore see each other's reservations, and since the estimate
counts the prompt's tokens plus the node's max output tokens, a budget is overspent by at
most the one call whose actual usage ran past its estimate.
Each reservation is also kept as BudgetHold rows naming the node attempt that made it, so the
reservation of a worker killed mid-call is given back by the reaper (release_orphans) instead
of holding the budget back until the period ends.
Crossing a budget's alert_percent emits a run event, a workspace live message and an email
to the owners, once per budget per period.
"""

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import send_mass_mail
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.db.models.functions import Greatest
from django.utils import timezone

from accounts.models import Membership, Role
from engine import live
from engine.errors import NonRetryableError
from engine.event_types import EventType, LiveMessage
from engine.models import Budget, BudgetHold, BudgetScope, BudgetSpend, NodeRun, NodeStatus
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


@dataclass
class Reservation:
    scope: Scope
    spend_ids: list[int]
    hold_ids: list[int]
    amount: Decimal


def period_of(budget: Budget, scope: Scope, now: datetime) -> str:
    if budget.scope == BudgetScope.RUN:
        return f"run:{scope.run_id}"
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


def applicable(scope: Scope) -> list[Budget]:
    """The workspace's monthly budget, its workflow's, and its per-run budgets (all runs, or this workflow's)."""
    return lookups.budgets(scope.workspace_id, scope.workflow_id)


def reserve(scope: Scope, estimate: Decimal) -> Reservation:
    """Hold `estimate` against every applicable budget, or raise BudgetExceeded naming the first that refuses."""
    budgets = applicable(scope)
    if not budgets:
        return Reservation(scope, [], [], estimate)
    now = timezone.now()
    wanted = [BudgetSpend(budget=budget, period=period_of(budget, scope, now)) for budget in budgets]
    with transaction.atomic():
        BudgetSpend.objects.bulk_create(wanted, ignore_conflicts=True)
        keys = Q()
        for spend in wanted:
            keys |= Q(budget_id=spend.budget.pk, period=spend.period)
        rows = list(BudgetSpend.objects.select_for_update().filter(keys).select_related("budget").order_by("pk"))
        for row in rows:
            if row.spent + row.reserved + estimate > row.budget.limit:
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
            )
            for row in rows
        )
    return Reservation(scope, [row.pk for row in rows], [hold.pk for hold in holds], estimate)


def settle(reservation: Reservation, actual: Decimal) -> None:
    """Replace the reservation by what the call cost; alert on budgets that crossed their threshold.

    The call's cost counts even when its holds were already given back (the reaper released
    them while this worker, taken for dead, still waited for the answer): the money was spent.
    """
    if not reservation.spend_ids:
        return
    crossed: list[BudgetSpend] = []
    with transaction.atomic():
        rows = _locked(reservation.spend_ids)
        held, _ = _delete_holds(reservation.hold_ids)
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


def release_orphans(older_than: datetime) -> int:
    """Give back the holds of model calls whose node attempt is no longer running; how many.

    Such a call's worker died, or lost its lease, before it could settle. Only holds made
    before `older_than` are looked at, so that a sweep never races the transaction that is
    still creating a hold beside its node's claim.
    """
    running = NodeRun.objects.filter(
        run_id=OuterRef("run_id"), node_id=OuterRef("node_id"), attempt=OuterRef("attempt"), status=NodeStatus.RUNNING
    )
    orphans = list(
        BudgetHold.objects.filter(created_at__lt=older_than)
        .exclude(Exists(running))
        .values_list("pk", "spend_id")[:ORPHANS_PER_SWEEP]
    )
    if not orphans:
        return 0
    given = _give_back(list({spend_id for _, spend_id in orphans}), [pk for pk, _ in orphans])
    log.info("gave back %d budget holds of model calls whose worker is gone", given)
    return given


def _locked(spend_ids: list[int]) -> list[BudgetSpend]:
    """The spend rows, locked in id order: every writer of a row's holds holds its lock first, so no
    two of them can give the same hold back, and two calls never deadlock."""
    rows = BudgetSpend.objects.select_for_update().filter(pk__in=spend_ids).select_related("budget")
    return list(rows.order_by("pk"))


def _delete_holds(hold_ids: list[int]) -> tuple[dict[int, Decimal], int]:
    """Delete those of these holds still there (their rows locked): the amount each spend row held, and how many."""
    held: dict[int, Decimal] = {}
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
