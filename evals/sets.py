"""Eval sets and their rows and scorers: creating a set, adding rows (typed in, from a dataset, from a run),
saving scorers. Rows are checked against the workflow's trigger schema first, naming the row and the field;
nothing is stored when one does not match."""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db import IntegrityError, transaction
from django.db.models import Max

from accounts.audit import record
from builder.models import Workflow
from datasets import row_inputs
from datasets.models import Dataset, DatasetRow, Source
from engine.models import Run, RunPurpose, RunStatus
from engine.providers import catalog
from evals.models import EvalRow, EvalSet, RowSource, Scorer
from evals.scorers import ScorerSpec, check_models, checked

Actor = User | AnonymousUser | None
MAX_ROWS = 10_000


class EvalSetInvalid(ValueError):
    """Bad input; `field` names the field at fault, `problems` the rows that do not match (row and field)."""

    def __init__(self, field: str, reason: str, problems: list[dict[str, Any]] | None = None) -> None:
        super().__init__(reason)
        self.field = field
        self.problems = problems or []


@dataclass(frozen=True)
class NewRow:
    input: Any
    expected: Any
    source: str = RowSource.MANUAL
    origin: dict[str, Any] | None = None


def _user(by: Actor) -> User | None:
    return by if isinstance(by, User) else None


def create_set(workflow: Workflow, name: str, by: Actor, description: str = "") -> EvalSet:
    name = name.strip()
    if not name or len(name) > 200:
        raise EvalSetInvalid("name", "give the eval set a name of at most 200 characters")
    try:
        with transaction.atomic():
            eval_set = EvalSet.objects.create(
                workspace_id=workflow.workspace_id,
                workflow=workflow,
                name=name,
                description=description,
                created_by=_user(by),
            )
    except IntegrityError:
        raise EvalSetInvalid("name", f"{workflow.name!r} already has an eval set named {name!r}") from None
    record(by, "eval_set.created", workspace=workflow.workspace, target=eval_set)
    return eval_set


def input_schema(workflow: Workflow) -> dict[str, Any]:
    """The trigger's input schema in the workflow's draft (what its next version will take)."""
    return row_inputs.input_schema(workflow.draft if isinstance(workflow.draft, dict) else {})


def _checked(eval_set: EvalSet, rows: list[NewRow], from_text: bool = False) -> list[NewRow]:
    """The rows with their inputs as the trigger takes them; EvalSetInvalid naming each row and field that does not
    match. Rows are numbered from the set's next one, as the page will show them."""
    start = eval_set.rows.count()
    if start + len(rows) > MAX_ROWS:
        raise EvalSetInvalid("rows", f"an eval set holds at most {MAX_ROWS:,} rows")
    as_dataset = [DatasetRow(position=start + i, line=0, data=row.input) for i, row in enumerate(rows)]
    bad = [i for i, row in enumerate(rows) if not isinstance(row.input, dict)]
    if bad:
        raise EvalSetInvalid(f"rows[{bad[0]}].input", f"row {start + bad[0] + 1}: the input must be a JSON object")
    try:
        inputs = row_inputs.check(as_dataset, input_schema(eval_set.workflow), from_text=from_text)
    except row_inputs.RowsMismatch as mismatch:
        problems = [_problem(p, p.row - 1 - start) for p in mismatch.problems]
        raise EvalSetInvalid("rows", str(mismatch), problems) from None
    return [NewRow(value, row.expected, row.source, row.origin) for value, row in zip(inputs, rows, strict=True)]


def _problem(problem: row_inputs.RowProblem, index: int) -> dict[str, Any]:
    """A row that does not match, with its path in the request's rows."""
    return {**problem.as_dict(), "path": f"rows[{index}].input.{problem.field}".rstrip(".")}


def add_rows(eval_set: EvalSet, rows: list[NewRow], by: Actor, from_text: bool = False) -> list[EvalRow]:
    """Check every row, then store them all at the end of the set (or none)."""
    rows = _checked(eval_set, rows, from_text)
    with transaction.atomic():
        EvalSet.objects.select_for_update().filter(pk=eval_set.pk).first()
        last = eval_set.rows.aggregate(last=Max("position"))["last"]
        start = -1 if last is None else last
        made = EvalRow.objects.bulk_create(
            EvalRow(
                eval_set=eval_set,
                position=start + 1 + i,
                input=row.input,
                expected=row.expected,
                source=row.source,
                origin=row.origin or {},
                created_by=_user(by),
            )
            for i, row in enumerate(rows)
        )
    record(by, "eval_set.rows_added", workspace=eval_set.workspace, target=eval_set, rows=len(made))
    return made


def rows_from_dataset(eval_set: EvalSet, dataset: Dataset, expected_columns: Iterable[str], by: Actor) -> list[EvalRow]:
    """A row per dataset row: the columns named in `expected_columns` become the expected fields, the rest the input."""
    if dataset.workspace_id != eval_set.workspace_id:
        raise EvalSetInvalid("dataset_id", "the dataset belongs to another workspace")
    expected_names = [name for name in expected_columns if name]
    missing = [name for name in expected_names if name not in dataset.columns]
    if missing:
        raise EvalSetInvalid("expected_columns", f"the dataset has no column {missing[0]!r}")
    rows = []
    for row in dataset.rows.order_by("position").iterator(chunk_size=2000):
        data = row.data if isinstance(row.data, dict) else {}
        expected = {name: data[name] for name in expected_names if name in data}
        value = {name: item for name, item in data.items() if name not in expected_names}
        origin = {"dataset_id": dataset.pk, "dataset": dataset.name, "row": row.position + 1}
        rows.append(NewRow(value, expected or None, RowSource.DATASET, origin))
    return add_rows(eval_set, rows, by, from_text=dataset.source == Source.CSV)


def row_from_run(eval_set: EvalSet, run: Run, by: Actor, expected: Any = None) -> EvalRow:
    """The run's input with its output (or `expected`, an edited output) as the expected value."""
    if run.workspace_id != eval_set.workspace_id or run.workflow_id != eval_set.workflow_id:
        raise EvalSetInvalid("run_id", f"run {run.pk} is not a run of {eval_set.workflow.name!r}")
    if run.purpose == RunPurpose.EVALUATION:
        raise EvalSetInvalid("run_id", f"run {run.pk} is itself part of an eval run")
    if expected is None:
        if run.status != RunStatus.SUCCEEDED:
            raise EvalSetInvalid("expected", f"run {run.pk} has no output ({run.status}): give the expected output")
        expected = run.output
    origin = {"run_id": run.pk, "version": run.version_number}
    return add_rows(eval_set, [NewRow(run.input, expected, RowSource.RUN, origin)], by)[0]


def delete_row(row: EvalRow, by: Actor) -> None:
    eval_set = row.eval_set
    row.delete()
    record(by, "eval_set.row_deleted", workspace=eval_set.workspace, target=eval_set, position=row.position + 1)


def save_scorer(eval_set: EvalSet, spec: ScorerSpec, by: Actor, scorer: Scorer | None = None) -> Scorer:
    """Create a scorer (or change `scorer`); ScorerInvalid naming the field when its config is wrong."""
    spec = checked(spec)
    check_models(spec, catalog(eval_set.workspace_id))
    others = eval_set.scorers.exclude(pk=scorer.pk) if scorer else eval_set.scorers.all()
    if others.filter(name=spec.name).exists():
        raise EvalSetInvalid("name", f"the eval set already has a scorer named {spec.name!r}")
    values = vars(spec).copy()
    if scorer is None:
        scorer = Scorer.objects.create(eval_set=eval_set, **values)
    else:
        Scorer.objects.filter(pk=scorer.pk).update(**values)
        scorer.refresh_from_db()
    record(by, "eval_set.scorer_saved", workspace=eval_set.workspace, target=eval_set, scorer=spec.name)
    return scorer


def delete_scorer(scorer: Scorer, by: Actor) -> None:
    eval_set = scorer.eval_set
    scorer.delete()
    record(by, "eval_set.scorer_deleted", workspace=eval_set.workspace, target=eval_set, scorer=scorer.name)


def spec_of(scorer: Scorer) -> ScorerSpec:
    return ScorerSpec(scorer.name, scorer.kind, scorer.field, scorer.config, scorer.threshold, scorer.expected_field)
