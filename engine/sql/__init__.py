"""The engine's hot path as plain SQL, one module per purpose.

- `script`: running statements with named parameters as one round trip, prepared once per connection.
- `run_lock`: locking and reading the run row, and saving it with its new events.
- `claims`: taking a ready node for a worker (the `Claim` it gives).
- `outcomes`: fenced writes of a node's outcome, the nodes made ready or skipped, a success recorded alone.
- `readiness`: the node rows scheduling reads, and the counts that decide how a run goes on.
- `node_inputs`: what a node reads of its run and its upstream nodes before it runs.
- `successor_reads`: what a success reads, in one statement, of the successor a chain of cheap nodes may run next.
- `lookups`: the reads made on every model call (prices, budgets, providers, billing facts).

`claims`, `outcomes` and `run_lock` write statuses; only engine/runs/ (and engine/events.py,
which saves what engine/runs/ set) calls them (tests/engine/test_status_owner.py checks it).
"""
