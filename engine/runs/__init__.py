"""engine/runs/ owns every status change of a run or a node, each written with its events.

Each function takes the run lock (engine.events.change), checks with a conditional UPDATE
that the row is still in the state it expects ("0 rows" means someone else got there
first: a reaper, a cancel, a newer attempt) and records what happened as RunEvents.
Scheduling (engine.flow) decides what becomes ready, what is skipped and what status the run
moves to; the functions here apply those decisions. The SQL that writes a status
(engine.sql.claims, engine.sql.outcomes) is called from this package only
(tests/engine/test_status_owner.py).

- `starting`: start_run, rerun, start_reusing (a partial run), and what they take.
- `claims`: a worker claiming a ready node, ClaimNext, the lease and its heartbeat.
- `outcomes`: succeed, fail, crash (and why it crashed: CrashReason).
- `progress`: applying flow's decisions, settling the run, cancelling its open nodes when it ends.
- `control`: resume, cancel_run, retry_from_failed.
- `children`: the child runs of subworkflow and for_each nodes: their rounds, starting them, counting their
  ends in the parent, cascading cancels, and the helpers batches use (start_for_each, progress, item_runs);
  `child_tally` counts ended children in their parent, `child_inline` ends a child of cheap nodes at its start.
"""

from engine.runs.claims import CLAIMABLE, Attempt, Claim, ClaimNext, Ran, claim, claim_all, heartbeat
from engine.runs.control import cancel_run, resume, retry_from_failed
from engine.runs.outcomes import CrashReason, crash, fail, succeed
from engine.runs.starting import Options, RunRejected, RunSource, create, rerun, start_reusing, start_run

__all__ = [
    "CLAIMABLE",
    "Attempt",
    "Claim",
    "ClaimNext",
    "CrashReason",
    "Options",
    "Ran",
    "RunRejected",
    "RunSource",
    "cancel_run",
    "claim",
    "claim_all",
    "crash",
    "create",
    "fail",
    "heartbeat",
    "rerun",
    "resume",
    "retry_from_failed",
    "start_reusing",
    "start_run",
    "succeed",
]
