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
from evals.models import EvalRun, EvalSet

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


class GateInvalid(ValueError):
    """A gate that cannot be saved; `field` names the setting at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class GateSettings:
    eval_set_id: int
    scorer: str = ""
    min_pass_rate: float | None = None
    max_drop_points: float | None = None
    enabled: bool = True


def save_gate(workflow: Workflow, settings: GateSettings, by: User | None) -> PublishGate:
    """Set the workflow's gate (owners only: the caller checks); GateInvalid names the setting at fault."""
    eval_set = EvalSet.objects.filter(pk=settings.eval_set_id, workflow=workflow).first()
    if eval_set is None:
        raise GateInvalid("eval_set_id", f"{workflow.name!r} has no eval set {settings.eval_set_id}")
    if settings.min_pass_rate is not None:
        if not 0 <= settings.min_pass_rate <= 1:
            raise GateInvalid("min_pass_rate", "give a pass rate from 0 to 1")
        if not eval_set.scorers.filter(name=settings.scorer).exists():
            raise GateInvalid("scorer", f"the eval set {eval_set.name!r} has no scorer {settings.scorer!r}")
    if settings.max_drop_points is not None and not 0 <= settings.max_drop_points <= 100:
        raise GateInvalid("max_drop_points", "give percentage points from 0 to 100")
    if settings.min_pass_rate is None and settings.max_drop_points is None:
        raise GateInvalid("min_pass_rate", "set a minimum pass rate, a largest drop, or both")
    gate, _ = PublishGate.objects.update_or_create(
        workflow=workflow,
        defaults={
            "eval_set": eval_set,
            "scorer": settings.scorer if settings.min_pass_rate is not None else "",
            "min_pass_rate": settings.min_pass_rate,
            "max_drop_points": settings.max_drop_points,
            "enabled": settings.enabled,
        },
    )
    record(by, "workflow.gate_saved", workspace=workflow.workspace, target=workflow, **vars(settings))
    return gate


def describe(gate: PublishGate) -> str:
    """The rule in words, as the Versions tab shows it."""
    parts = []
    if gate.min_pass_rate is not None:
        parts.append(f"pass rate of {gate.scorer} ≥ {gate.min_pass_rate:g}")
    if gate.max_drop_points is not None:
        parts.append(f"no scorer more than {gate.max_drop_points:g} points below the published version")
    return f"On {gate.eval_set.name}: " + " and ".join(parts)


def draft_comparison(workflow: Workflow, by: User | AnonymousUser | None) -> tuple[EvalRun, EvalRun] | None:
    """The eval runs that answer "is my draft better than what is live?": the latest version's and the draft's
    on the gate's eval set (or the workflow's first), reused when fresh, started when missing. None when the
    workflow has no published version or no eval set."""
    gate = gate_of(workflow)
    eval_set = gate.eval_set if gate else EvalSet.objects.filter(workflow=workflow).order_by("pk").first()
    latest = workflow.latest_version()
    if eval_set is None or latest is None:
        return None
    probe = PublishGate(workflow=workflow, eval_set=eval_set)
    base = version_run(probe, latest) or start_eval_run(eval_set, latest, by)
    draft = draft_run(probe, workflow) or start_eval_run(eval_set, None, by)
    return base, draft
