"""What the chaos benchmark counts, from the database and the fakes' records, and the verdict per target."""

import itertools
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from bench.chaos.faults import Fault
from bench.chaos.outside import Delivery, ModelCall
from bench.chaos.stack import Death
from bench.chaos.workload import Trigger

P95_RATIO_TARGET = 3.0


@dataclass
class RunRow:
    id: int
    status: str
    finished_at: float | None


@dataclass
class Phase:
    name: str
    triggers: list[Trigger]
    runs: dict[str, RunRow] = field(default_factory=dict)  # by ticket

    def ended(self) -> list[tuple[Trigger, RunRow]]:
        return [
            (t, self.runs[t.ticket]) for t in self.triggers if t.ticket in self.runs and self.runs[t.ticket].finished_at
        ]

    def latencies(self) -> list[float]:
        return sorted(row.finished_at - trigger.at for trigger, row in self.ended() if row.finished_at)

    def count(self, status: str) -> int:
        return sum(1 for row in self.runs.values() if row.status == status)

    def stuck(self) -> int:
        return sum(1 for row in self.runs.values() if row.finished_at is None)

    def never_started(self) -> list[Trigger]:
        return [trigger for trigger in self.triggers if trigger.ticket not in self.runs]


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18] if len(values) > 1 else values[0]


def read_runs(phase: Phase, workspace_id: int) -> None:
    """The phase's runs by their Idempotency-Key (the ticket), whether or not the trigger saw its answer."""
    from engine.models import Run

    rows = Run.objects.filter(workspace_id=workspace_id, idempotency_key__in=[t.ticket for t in phase.triggers])
    for key, pk, status, finished in rows.values_list("idempotency_key", "id", "status", "finished_at"):
        phase.runs[key] = RunRow(pk, status, finished.timestamp() if finished else None)


@dataclass
class Bills:
    answered: int = 0
    cut_off: int = 0
    rows: int = 0
    estimated: int = 0
    missing: int = 0
    duplicate: int = 0
    missing_at: list[str] = field(default_factory=list)


def bills(phases: list[Phase], calls: list[ModelCall]) -> Bills:
    """Cost entries per run and node against the calls the model server answered or was cut off in."""
    from engine.models import CostEntry

    run_of = {ticket: row.id for phase in phases for ticket, row in phase.runs.items()}
    seen: dict[tuple[int, str], Counter[bool]] = defaultdict(Counter)
    result = Bills()
    for call in calls:
        if call.ticket in run_of:
            seen[(run_of[call.ticket], call.node)][call.answered] += 1
            result.answered += call.answered
            result.cut_off += not call.answered
    billed: dict[tuple[int, str], int] = Counter()
    for run_id, node_id, estimated in CostEntry.objects.filter(run_id__in=run_of.values()).values_list(
        "run_id", "node_id", "estimated"
    ):
        billed[(run_id, node_id)] += 1
        result.rows += 1
        result.estimated += estimated
    for key in seen.keys() | billed.keys():
        answered, cut = seen[key][True], seen[key][False]
        if answered > billed[key]:
            result.missing += answered - billed[key]
            result.missing_at.append(f"run {key[0]} node {key[1]}: {answered} answered, {billed[key]} billed")
        result.duplicate += max(0, billed[key] - answered - cut)
    return result


@dataclass
class Repeats:
    keys: int = 0
    repeated: int = 0
    after_unknown: int = 0
    after_known: list[str] = field(default_factory=list)
    missing: int = 0


def repeats(deliveries: list[Delivery], faults: list[Fault], lease_s: float, succeeded: list[str]) -> Repeats:
    """Effects POSTed more than once, each repeat classed by what the attempt before it knew.

    A repeat is after an unknown outcome when the earlier request went unanswered (its client
    was gone) or the process that sent it was SIGKILLed by the schedule before the effect's
    ledger row could be marked done (within a lease of the answer: that write is retried for
    up to a lease). Otherwise it followed a known answer, which the engine promises not to repeat.
    """
    by_key: dict[str, list[Delivery]] = defaultdict(list)
    for delivery in sorted(deliveries, key=lambda d: d.received_at):
        if delivery.path.startswith("/effects/"):
            by_key[delivery.key].append(delivery)
    result = Repeats(keys=len(by_key))
    kills = [(fault.at, pid) for fault in faults for pid in fault.pids]
    for key, sent in by_key.items():
        if len(sent) > 1:
            result.repeated += 1
        for before, again in itertools.pairwise(sent):
            window = (before.received_at, min(again.received_at, before.answered_at + lease_s))
            killed = any(
                window[0] <= at <= window[1] and (before.pid is None or pid == before.pid) for at, pid in kills
            )
            if not before.answered or killed:
                result.after_unknown += 1
            else:
                later = again.received_at - before.answered_at
                result.after_known.append(f"{key} (sent by pid {before.pid}, answered, again {later:.1f} s later)")
    expected = {f"switchyard-{run}-{node}-{name}" for run in succeeded for node, name in
                (("post_1", "request"), ("post_2", "request"), ("done", "callback"))}  # fmt: skip
    result.missing = len(expected - by_key.keys())
    return result


def webhooks(deliveries: list[Delivery], ended_runs: int) -> tuple[int, int]:
    """(event ids answered more than once, ended runs minus event ids answered)."""
    answered = Counter(d.key for d in deliveries if d.path == "/ended" and d.answered)
    return sum(1 for count in answered.values() if count > 1), max(0, ended_runs - len(answered))


def budget_left() -> tuple[str, int]:
    """What budgets still hold reserved, and how many holds are left, once every run ended."""
    from django.db.models import Sum

    from engine.models import BudgetHold, BudgetSpend

    reserved = BudgetSpend.objects.aggregate(total=Sum("reserved"))["total"] or 0
    return f"{reserved:.6f}", BudgetHold.objects.count()


@dataclass
class Verdict:
    lines: list[str] = field(default_factory=list)

    def target(self, label: str, value: float, limit: float, shown: str | None = None) -> None:
        mark = "met" if value <= limit else "MISSED"
        self.lines.append(f"  {label:<52}{shown or f'{value:g}':>10}  (target <= {limit:g})  {mark}")


def latency_line(phase: Phase) -> str:
    values = phase.latencies()
    if not values:
        return f"  {phase.name:<12} no run ended"
    return (
        f"  {phase.name:<12} p50 {statistics.median(values):6.2f} s   p95 {p95(values):6.2f} s   "
        f"max {values[-1]:6.2f} s   ({len(values)} runs)"
    )


def deaths_lines(deaths: list[Death]) -> list[str]:
    lines = []
    for death in deaths:
        last = [line for line in death.log_tail.splitlines() if line.strip()][-3:]
        lines.append(f"    {death.name} pid {death.pid} exited rc={death.returncode}: " + " | ".join(last)[-400:])
    return lines
