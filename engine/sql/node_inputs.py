"""What a node reads before it runs: its run's facts and the outputs of its upstream nodes, in one round trip."""

from collections.abc import Collection, Sequence
from typing import Any, NamedTuple

from accounts.models import Workspace
from engine.models import NodeRun, NodeStatus, Run
from engine.sql.readiness import of_nodes
from engine.sql.script import Outcome, Statement, from_json, run_script


class RunFacts(NamedTuple):
    """What a node needs of its run, with its workspace's outbound allowlist."""

    input: Any
    workspace_id: int
    created_by_id: int | None
    workflow_id: int | None
    version_number: int | None
    http_allowlist: list[str]
    purpose: str


Inputs = tuple[RunFacts, dict[str, Any]]
# The columns RunFacts are read from, of the run (r) and its workspace (w); a claim reads them too.
FACTS_COLUMNS = "r.input, r.workspace_id, r.created_by_id, r.workflow_id, r.version_number, w.http_allowlist, r.purpose"


def inputs(run_id: int, upstream: Collection[str]) -> Inputs:
    """The run's facts, and the outputs of the nodes named in `upstream` that succeeded (read fresh for each node)."""
    return read(run_script(statements(run_id, upstream)))


def statements(run_id: int, upstream: Collection[str]) -> list[Statement]:
    """The reads `inputs` makes, for a script that sends them with other statements (see `read`)."""
    return [facts_statement(run_id), of_nodes("node_id, output", run_id, upstream, NodeStatus.SUCCEEDED)]


def facts_statement(run_id: int) -> Statement:
    """Read the run's facts (see `facts`)."""
    run = "engine_run r JOIN accounts_workspace w ON w.id = r.workspace_id"
    return f"SELECT {FACTS_COLUMNS} FROM {run} WHERE r.id = %(run_id)s", {"run_id": run_id}  # noqa: S608


def read(outcomes: Sequence[Outcome]) -> Inputs:
    """What the `statements` gave, as `inputs` gives it."""
    found, produced = outcomes
    return facts(found.rows[0]), {node_id: from_json(NodeRun, "output", output) for node_id, output in produced.rows}


def facts(row: Sequence[Any]) -> RunFacts:
    """RunFacts from a row of FACTS_COLUMNS."""
    return RunFacts(
        from_json(Run, "input", row[0]),
        row[1],
        row[2],
        row[3],
        row[4],
        from_json(Workspace, "http_allowlist", row[5]),
        row[6],
    )
