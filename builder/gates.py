"""The publish gate: a workflow's optional rule that its draft must meet on an eval set before it is published.

Checking the gate needs two scored eval runs of the gate's eval set: one of the draft as it is now
(its revision) and one of the latest published version. A fresh one is reused (same revision,
same version); a missing one is started, and the publish waits for it: nothing is published until
both are scored. A draft that breaks a rule is refused with one reason per broken rule; an owner may
publish it anyway with a note, which the version and the audit log keep.
"""

from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import AnonymousUser, User

from accounts.audit import record
from builder.models import PublishGate, Workflow, WorkflowVersion
from engine.models import RunStatus
from evals.eval_runs import start_eval_run
from evals.models import EvalRun

RULE_MINIMUM = "min_pass_rate"
RULE_DROP = "max_drop_points"
# An eval run that ended like this never gets scored: it does not count as fresh.
UNSCORABLE = (RunStatus.FAILED, RunStatus.CANCELLED)


@dataclass(frozen=True)
class Reason:
    rule: str
    message: str


@dataclass(frozen=True)
class Verdict:
    """What the gate says about the draft now: still evaluating (`pending`), passed, or refused with `reasons`."""

    draft_run: EvalRun | None = None
    base_run: EvalRun | None = None
    pending: list[EvalRun] = field(default_factory=list)
    reasons: list[Reason] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.pending and not self.reasons

    def as_dict(self) -> dict[str, Any]:
        return {
            "draft_eval_run": self.draft_run.pk if self.draft_run else None,
            "base_eval_run": self.base_run.pk if self.base_run else None,
            "passed": self.passed,
            "reasons": [vars(reason) for reason in self.reasons],
        }


class GatePending(Exception):
    """The gate's eval runs are still running: nothing was published; publish again once they are scored."""

    def __init__(self, verdict: Verdict) -> None:
        runs = ", ".join(f"{run.pk} ({run.target_label})" for run in verdict.pending)
        super().__init__(f"gate: the eval runs {runs} are still running; publish again when they have finished")
        self.verdict = verdict


class GateRefused(Exception):
    """The draft breaks the gate's rules: nothing was published. Each reason names its rule."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__("; ".join(f"{reason.rule}: {reason.message}" for reason in verdict.reasons))
        self.verdict = verdict


def gate_of(workflow: Workflow) -> PublishGate | None:
    return PublishGate.objects.select_related("eval_set").filter(workflow=workflow, enabled=True).first()


def _usable(runs: Any) -> EvalRun | None:
    return runs.exclude(run__status__in=UNSCORABLE).order_by("-created_at", "-id").first()


def draft_run(gate: PublishGate, workflow: Workflow) -> EvalRun | None:
    """The latest eval run of the draft at its current revision, scored or still running."""
    return _usable(
        EvalRun.objects.filter(eval_set=gate.eval_set, version__isnull=True, draft_revision=workflow.draft_revision)
    )


def version_run(gate: PublishGate, version: WorkflowVersion) -> EvalRun | None:
    return _usable(EvalRun.objects.filter(eval_set=gate.eval_set, version=version))


def evaluate(workflow: Workflow, by: User | AnonymousUser | None) -> Verdict:
    """The gate's verdict on the draft, starting the eval runs it lacks (GatePending's runs)."""
    gate = gate_of(workflow)
    if gate is None:
        return Verdict()
    draft = draft_run(gate, workflow) or start_eval_run(gate.eval_set, None, by)
    latest = workflow.latest_version()
    base = None
    if latest is not None:
        base = version_run(gate, latest) or start_eval_run(gate.eval_set, latest, by)
    pending = [run for run in (draft, base) if run is not None and run.aggregates is None]
    if pending:
        return Verdict(draft, base, pending)
    return Verdict(draft, base, reasons=broken_rules(gate, draft, base))


def _pass_rates(run: EvalRun) -> dict[str, float | None]:
    return {name: figures.get("pass_rate") for name, figures in (run.aggregates or {}).get("scorers", {}).items()}


def broken_rules(gate: PublishGate, draft: EvalRun, base: EvalRun | None) -> list[Reason]:
    """One reason per broken rule: the scorer's pass rate under its minimum, each scorer that fell too far."""
    reasons = []
    after = _pass_rates(draft)
    if gate.min_pass_rate is not None:
        rate = after.get(gate.scorer)
        if rate is None or rate < gate.min_pass_rate:
            shown = "no pass rate" if rate is None else f"a pass rate of {rate:.1%}"
            message = f"{gate.scorer!r} has {shown} on the draft; the gate needs at least {gate.min_pass_rate:.1%}"
            reasons.append(Reason(RULE_MINIMUM, message))
    if gate.max_drop_points is not None and base is not None:
        for name, before in _pass_rates(base).items():
            now = after.get(name)
            if before is None or now is None:
                continue
            drop = (before - now) * 100
            if drop > gate.max_drop_points:
                message = (
                    f"{name!r} falls {drop:.1f} points below {base.target_label} ({before:.1%} → {now:.1%}); "
                    f"the gate allows {gate.max_drop_points:g}"
                )
                reasons.append(Reason(RULE_DROP, message))
    return reasons


def check(workflow: Workflow, by: User | AnonymousUser | None, override_note: str = "") -> Verdict:
    """The verdict that lets a publish go ahead; GatePending or GateRefused (no note) stop it.

    The caller checks that whoever sends an `override_note` may override (owners).
    """
    verdict = evaluate(workflow, by)
    if verdict.pending:
        raise GatePending(verdict)
    if verdict.reasons and not override_note.strip():
        raise GateRefused(verdict)
    return verdict


def note_on(version: WorkflowVersion, verdict: Verdict, by: User | None, override_note: str = "") -> None:
    """Keep the gate's verdict (and an override's note) on the published version and in the audit log."""
    if verdict.draft_run is None:
        return
    overridden = bool(verdict.reasons)
    report = {**verdict.as_dict(), "overridden": overridden}
    WorkflowVersion.objects.filter(pk=version.pk).update(
        gate_report=report, gate_override_note=override_note if overridden else ""
    )
    version.gate_report, version.gate_override_note = report, override_note if overridden else ""
    if overridden:
        reasons = [vars(reason) for reason in verdict.reasons]
        record(
            by,
            "workflow.gate_overridden",
            workspace=version.workflow.workspace,
            target=version,
            note=override_note,
            reasons=reasons,
        )
