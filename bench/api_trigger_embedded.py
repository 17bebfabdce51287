"""Runs started and finished per second through the REST API in the embedded mode (`make run`), for the record.

    .venv/bin/python bench/api_trigger_embedded.py [--seconds 10] [--reps 3]

One process, as `make run` starts it (`python -m config.embedded`: uvicorn, an in-process
Celery worker on the in-memory broker and beat, on SQLite), with a data directory of its own
in a temporary folder, so the user's var/ is never touched. The same load as
bench/api_trigger.py: wrk drives `POST /api/v1/workflows/<id>/runs` (trigger -> transform ->
reply) with a Bearer token at 1 and 16 connections for --seconds each, then this waits until
every run it started has ended. Printed per load: triggers/s, runs completed/s (first trigger
to last end), trigger latency p50/p90/p99 (wrk's), non-2xx answers, runs not succeeded, and
the process's CPU time per trigger. Medians of --reps repetitions.

Issue 23 sets no target for the embedded mode: it is measured to be on the record beside the
production stack. Exit status: 0 measured, 1 could not measure.
"""

import argparse
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script, the repo root is not on the path

from bench import report
from bench.api_stack import CouldNotMeasure, Web, cpu_seconds, make_site
from bench.api_trigger import CONNECTIONS, Load, last_run_id, median, wait_ended, wrk, wrk_script


@dataclass
class Embedded(Web):
    """`python -m config.embedded` (what `make run` starts) on a data directory of its own; a context manager."""

    processes: int = 1

    def __post_init__(self) -> None:
        self.env = self.env | {"HOST": "127.0.0.1", "PORT": str(self.port)}

    def command(self) -> list[str]:
        return [sys.executable, "-m", "config.embedded"]


def embedded_env(data_dir: str) -> dict[str, str]:
    """The environment `make run` gives (no DATABASE_URL, no REDIS_URL), on `data_dir`; Django set up on it here."""
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    # The limit stays on (every trigger still counts), above what the benchmark reaches.
    env |= {"SWITCHYARD_DATA_DIR": data_dir, "API_TOKEN_TRIGGERS_PER_MINUTE": "100000"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    os.environ.clear()
    os.environ.update(env | {"DJANGO_SETTINGS_MODULE": "config.settings"})
    return env


def trigger_load(url: str, script: Path, connections: int, seconds: float, app: Web) -> Load:
    assert app.process is not None
    first_id = last_run_id()
    cpu_before = cpu_seconds(app.process.pid)
    load = wrk(url, script, connections, seconds)
    n, span, bad = wait_ended(first_id, app, 300)  # type: ignore[arg-type]  # it only asks whether the engine is alive
    lost = load.requests - load.non_2xx - load.socket_errors - n
    return replace(
        load,
        runs_per_s=n / span if span else 0.0,
        not_succeeded=bad + max(lost, 0),
        web_cpu_s=cpu_seconds(app.process.pid) - cpu_before,
    )


def measure(args: argparse.Namespace, data_dir: str) -> dict[str, list[Load]]:
    env = embedded_env(data_dir)
    loads: dict[str, list[Load]] = {}
    with Embedded(env, Path(data_dir) / "embedded.log") as app:
        # The process migrated the database before it answered; the site is made beside its demo data.
        import django

        django.setup()
        site = make_site()
        script = Path(data_dir) / "trigger.lua"
        script.write_text(wrk_script(site.token))
        url = f"http://127.0.0.1:{app.port}/api/v1/workflows/{site.workflow_id}/runs"
        trigger_load(url, script, 16, 3, app)  # warm-up, not counted
        for rep in range(args.reps):
            for connections in CONNECTIONS:
                load = trigger_load(url, script, connections, args.seconds, app)
                loads.setdefault(f"trigger c={connections}", []).append(load)
                print(
                    f"  rep {rep + 1}, {connections:>2} conn: {load.per_s:6.1f} triggers/s, p50 {load.p50_ms:6.1f}"
                    f" p99 {load.p99_ms:6.1f} ms, runs {load.runs_per_s:6.1f}/s, non-2xx {load.non_2xx},"
                    f" not succeeded {load.not_succeeded}",
                    flush=True,
                )
    return loads


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="length of each load")
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("could not measure: wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 1
    print("\n".join(report.environment()[:3]), flush=True)
    print("embedded mode: one process (uvicorn, in-process worker and beat), SQLite", flush=True)
    data_dir = tempfile.mkdtemp(prefix="switchyard-embedded-bench-")
    try:
        loads = measure(args, data_dir)
    except CouldNotMeasure as error:
        print(f"\ncould not measure: {error}\n(logs kept in {data_dir})", file=sys.stderr)
        return 1
    print(f"\nResults: medians of {args.reps} repetitions of {args.seconds} s each (CPU: the one process's)")
    columns = ("req/s", "runs/s", "p50", "p90", "p99", "non2xx", "sock", "bad", "CPU ms")
    fields = ["per_s", "runs_per_s", "p50_ms", "p90_ms", "p99_ms", "non_2xx", "socket_errors", "not_succeeded"]
    fields.append("web_ms")  # the one process's CPU per trigger
    print(f"  {'':<16}" + "".join(f"{column:>8}" for column in columns))
    for name, values in loads.items():
        print(f"  {name:<16}" + "".join(f"{median([getattr(x, f) for x in values]):>8.1f}" for f in fields))
    bad = sum(x.not_succeeded for values in loads.values() for x in values)
    print(f"  runs lost or not succeeded: {bad}  {'PASS' if bad == 0 else 'MISS'}")
    print(f"  16 conn: {median([x.runs_per_s for x in loads['trigger c=16']]):.1f} runs/s end to end (no target)")
    print(f"\nload average at the end: {' '.join(f'{value:.2f}' for value in os.getloadavg())}")
    shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
