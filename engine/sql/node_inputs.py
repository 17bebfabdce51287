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


def inputs(run_id: int, upstream: Collection[str]) -> Inputs:
    """The run's facts, and the outputs of the nodes named in `upstream` that succeeded (read fresh for each node)."""
    return read(run_script(statements(run_id, upstream)))


def statements(run_id: int, upstream: Collection[str]) -> list[Statement]:
    """The reads `inputs` makes, for a script that sends them with other statements (see `read`)."""
    sql = (
        "SELECT r.input, r.workspace_id, r.created_by_id, r.workflow_id, r.version_number, w.http_allowlist, r.purpose "
        "FROM engine_run r JOIN accounts_workspace w ON w.id = r.workspace_id WHERE r.id = %(run_id)s"
    )
    return [(sql, {"run_id": run_id}), of_nodes("node_id, output", run_id, upstream, NodeStatus.SUCCEEDED)]


def read(outcomes: Sequence[Outcome]) -> Inputs:
    """What the `statements` gave, as `inputs` gives it."""
    found, produced = outcomes
    row = found.rows[0]
    facts = RunFacts(
        from_json(Run, "input", row[0]),
        row[1],
        row[2],
        row[3],
        row[4],
        from_json(Workspace, "http_allowlist", row[5]),
        row[6],
    )
    return facts, {node_id: from_json(NodeRun, "output", output) for node_id, output in produced.rows}
