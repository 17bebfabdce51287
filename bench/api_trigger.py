"""Runs started and finished per second through the REST API, on the production stack on this machine.

    .venv/bin/python bench/api_trigger.py [--seconds 10] [--reps 3] [--web-processes 2] [--rate 110] [--drain 5000]
    .venv/bin/python bench/api_trigger.py --drain-only [--reps 3] [--drain 2000]   # the worker's drain alone
    .venv/bin/python bench/api_trigger.py --worker-prefix 'nice -n 10'   # the worker at a lower CPU priority
    .venv/bin/python bench/api_trigger.py --web-prefix 'nice -n -5'      # the web processes at a higher one
    .venv/bin/python bench/api_trigger.py --worker-pool 8                # the worker on a pool of connections

uvicorn (--web-processes) and one Celery worker (--worker-args) on PostgreSQL and Redis. Two
load phases drive `POST /api/v1/workflows/<id>/runs` (trigger -> transform -> reply) with a
Bearer token for --seconds each, and after each this waits until every run it started has ended:
- closed loop: wrk at 1 and 16 connections, every connection always in flight;
- paced (open loop): 16 connections together sending at --rate requests/s (bench/paced_load.py,
  as wrk2 -R), latency from each request's scheduled send time.
At 1 connection the trigger is driven a second time with the worker stopped (SIGSTOP) during the
load, its runs ending once it resumes: the trigger's own latency without the worker running each
run beside it on the same cores (a diagnostic, not a target).
Printed per load: triggers/s, runs completed/s (first trigger to last end), trigger latency
p50/p90/p99, non-2xx answers, runs not succeeded; and beside it the baseline endpoint
(bench/api_baseline.py: the same token checked, one row inserted) on the same server, under
the same loads. Then --drain runs are queued with no worker running, one worker is started, and
its drain rate, its CPU and its PostgreSQL backends' CPU per run, and its memory (RSS before
and after) are printed. Medians of --reps repetitions.
--drain-only measures the drain alone (no web server, no load).

Targets (issue 23): trigger p50 at most 2x the baseline's at 1 connection (closed loop); at least
100 runs/s at 16 connections with p99 at most 150 ms; one worker drains at least 150 runs/s; no
run lost or failed. The second is judged twice. On the paced phase: the latency at a sustained
offered rate above 100/s, as wrk2 -R and Temporal's published latencies measure it. And on wrk's
closed loop at 16 connections, where the mean latency is 16 / throughput, so a p99 of 150 ms
there needs about 200 runs/s and a short tail. Exit status: 0 measured (a missed target is
reported, not an error), 1 could not measure (also when another worker consumes its Redis db,
or when it is stopped). Uses database bench_h5_api and Redis db 10 (bench/api_stack.py;
BENCH_API_DATABASE and BENCH_API_REDIS name others).
"""

import argparse
import os
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script, the repo root is not on the path

from bench import report
from bench.api_stack import (
    CouldNotMeasure,
    EngineWorker,
    Site,
    Web,
    backends_cpu_seconds,
    cpu_seconds,
    host_busy_seconds,
    make_site,
    prepare,
    rss_mb,
)
from bench.paced_load import Paced, paced

CONNECTIONS = (1, 16)
PAUSED = "trigger c=1 wk paused"
PACED_CONNECTIONS = 16
BODY = b'{"input": {"n": 1}}'
# The worker as docs/deploy.md runs it (DB_CONN_MAX_AGE=60 in its environment unless --worker-pool).
WORKER_ARGS = "--pool=threads --concurrency=8"
WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = '%(body)s'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(token)s"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %%d %%d %%d %%d %%d %%d %%d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), e.status,
    e.connect + e.read + e.write + e.timeout))
end
"""


def wrk_script(token: str) -> str:
    """wrk's Lua script: the trigger's POST with `token`, and one RESULT line of figures when the load ends."""
    return WRK_SCRIPT % {"token": token, "body": BODY.decode()}


@dataclass(frozen=True)
class Load:
    """What wrk measured for one endpoint at one connection count, and what the runs did."""

    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    runs_per_s: float = 0.0
    not_succeeded: int = 0
    web_cpu_s: float = 0.0
    worker_cpu_s: float = 0.0
    host_busy: float = 0.0  # share of the machine's CPU time busy during the load
    generator_cpu_s: float = 0.0  # the paced generator's own CPU time (wrk's is not measured)

    @property
    def per_s(self) -> float:
        return self.requests / self.seconds

    @property
    def web_ms(self) -> float:
        """CPU time of the web processes per request, in ms: steadier than latency on a busy machine."""
        return self.web_cpu_s * 1000 / self.requests if self.requests else 0.0

    @property
    def worker_ms(self) -> float:
        """CPU time of the worker per request (per run for the trigger), in ms."""
        return self.worker_cpu_s * 1000 / self.requests if self.requests else 0.0


def paced_name(rate: float) -> str:
    return f"paced {rate:g}/s"


def wrk(url: str, script: Path, connections: int, seconds: float) -> Load:
    threads = min(connections, 2)
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{round(seconds)}s", "--timeout", "10s", "-s", str(script)]
    command.append(url)
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise CouldNotMeasure(f"wrk gave no result ({shlex.join(command)}): {done.stdout[-800:]} {done.stderr[-800:]}")
    n, micros, p50, p90, p99, status, errors = (int(x) for x in line.split()[1:])
    return Load(n, micros / 1e6, p50 / 1000, p90 / 1000, p99 / 1000, status, errors)


def paced_load(url: str, token: str, rate: float, seconds: float) -> Load:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    got: Paced = paced(url, BODY, headers, PACED_CONNECTIONS, rate, seconds)
    return Load(
        got.requests,
        got.seconds,
        got.percentile(0.50),
        got.percentile(0.90),
        got.percentile(0.99),
        got.non_2xx,
        got.socket_errors,
        generator_cpu_s=got.generator_cpu_s,
    )


def last_run_id() -> int:
    from engine.models import Run

    return Run.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def wait_ended(after_id: int, worker: EngineWorker, timeout: float) -> tuple[int, float, int]:
    """Wait until every run with an id above `after_id` ended: (runs, first start to last end in s, not succeeded).

    The runs are counted in the same query that finds none open: a request still in the server when wrk
    stopped can start its run after a first look found none open, and is then waited for, not counted as
    one that did not succeed.
    """
    from django.db.models import Count, Max, Min, Q

    from engine.models import ENDED_RUN, Run, RunStatus

    runs = Run.objects.filter(pk__gt=after_id)
    deadline = time.monotonic() + timeout
    while True:
        got = runs.aggregate(
            n=Count("pk"),
            open=Count("pk", ~Q(status__in=ENDED_RUN)),
            first=Min("created_at"),
            last=Max("finished_at"),
            bad=Count("pk", ~Q(status=RunStatus.SUCCEEDED)),
        )
        if not got["open"]:
            break
        if not worker.alive():
            raise CouldNotMeasure("the worker died while runs were open")
        if time.monotonic() > deadline:
            raise CouldNotMeasure(f"runs still open {timeout} s after the load: {runs.exclude(status__in=ENDED_RUN)}")
        time.sleep(0.1)
    if not got["n"]:
        return 0, 0.0, 0
    return got["n"], (got["last"] - got["first"]).total_seconds(), got["bad"]


def _usage(web: Web, worker: EngineWorker) -> tuple[float, float, float, float]:
    assert web.process is not None
    assert worker.process is not None
    return cpu_seconds(web.process.pid), cpu_seconds(worker.process.pid), host_busy_seconds(), time.monotonic()


def baseline_load(drive: Callable[[str], Load], url: str, web: Web, worker: EngineWorker) -> Load:
    """`drive(url)` (wrk or the paced generator) against the baseline endpoint, with the web process's CPU."""
    before = _usage(web, worker)
    load = drive(url)
    after = _usage(web, worker)
    return replace(load, web_cpu_s=after[0] - before[0], host_busy=(after[2] - before[2]) / (after[3] - before[3]))


def trigger_load(
    drive: Callable[[str], Load], url: str, web: Web, worker: EngineWorker, *, paused: bool = False
) -> Load:
    """`drive(url)` against the trigger, then the wait until every run it started has ended.

    `paused`: the worker is stopped during the load (its runs end after it), so the latency is
    the trigger's own, without the worker running each run beside it on the same cores.
    """
    first_id = last_run_id()
    before = _usage(web, worker)
    if paused:
        with worker.paused():
            load = drive(url)
    else:
        load = drive(url)
    n, span, bad = wait_ended(first_id, worker, 300)
    after = _usage(web, worker)
    lost = load.requests - load.non_2xx - load.socket_errors - n
    return replace(
        load,
        runs_per_s=n / span if span else 0.0,
        not_succeeded=bad + max(lost, 0),
        web_cpu_s=after[0] - before[0],
        worker_cpu_s=after[1] - before[1],
        host_busy=(after[2] - before[2]) / (after[3] - before[3]),
    )


def queue_runs(site: Site, count: int) -> float:
    """Start `count` runs of the version in this process (no worker runs); seconds per run."""
    from builder.models import WorkflowVersion
    from builder.versions import run_version
    from engine.models import TriggerKind
    from engine.runs import Options

    version = WorkflowVersion.objects.select_related("workflow").get(pk=site.version_id)
    began = time.perf_counter()
    for _ in range(count):
        run_version(version, {"n": 1}, Options(trigger_kind=TriggerKind.API))
    return (time.perf_counter() - began) / count


Started = tuple[list[str], list[str]]  # the worker's arguments, and the command it runs under


def drain(site: Site, env: dict[str, str], log: Path, started: Started, count: int) -> dict[str, float]:
    before = last_run_id()
    start_s = queue_runs(site, count)
    began = time.perf_counter()
    with EngineWorker(env, log, *started) as worker:
        assert worker.process is not None
        ready = time.perf_counter()
        rss_before, cpu_before = rss_mb(worker.process.pid), cpu_seconds(worker.process.pid)
        database_before = backends_cpu_seconds()
        n, _, bad = wait_ended(before, worker, 600)
        ended = time.perf_counter()
        rss_after, cpu_after = rss_mb(worker.process.pid), cpu_seconds(worker.process.pid)
        # Backends that connected during the drain count from zero.
        database = sum(s - database_before.get(pid, 0.0) for pid, s in backends_cpu_seconds().items())
    return {
        "start_ms": start_s * 1000,
        "drain_per_s": n / (ended - ready),
        "worker_cpu_ms": (cpu_after - cpu_before) * 1000 / n if n else 0.0,
        "database_cpu_ms": database * 1000 / n if n else 0.0,
        "startup_s": ready - began,
        "rss_before": rss_before,
        "rss_after": rss_after,
        "bad": bad,
    }


def worker_database(pool: int) -> dict[str, str]:
    """The worker's connections: a pool of `pool` (no ping before each task's first statement), or one per
    thread kept for 60 s (pinged, CONN_HEALTH_CHECKS, once per task)."""
    return {"DB_POOL_SIZE": str(pool)} if pool else {"DB_CONN_MAX_AGE": "60"}


def median(values: list[float]) -> float:
    return statistics.median(values)


def table_row(name: str, loads: list[Load]) -> str:
    def m(attr: str) -> float:
        return median([getattr(x, attr) for x in loads])

    return (
        f"  {name:<22}{m('per_s'):>9.1f}{m('runs_per_s'):>9.1f}{m('p50_ms'):>8.1f}{m('p90_ms'):>8.1f}"
        f"{m('p99_ms'):>8.1f}{m('non_2xx'):>7.0f}{m('socket_errors'):>6.0f}{m('not_succeeded'):>6.0f}"
        f"{m('web_ms'):>7.1f}{m('worker_ms'):>7.1f}{m('host_busy'):>6.2f}"
    )


def measure(args: argparse.Namespace, data_dir: str) -> tuple[dict[str, list[Load]], list[dict[str, float]]]:
    """Each repetition runs every load once, interleaved, so drift in machine load hits all alike."""
    env = prepare(data_dir)
    site = make_site()
    script = Path(data_dir) / "trigger.lua"
    script.write_text(wrk_script(site.token))
    worker_env = env | worker_database(args.worker_pool)
    started: Started = (args.worker_args.split(), shlex.split(args.worker_prefix))
    loads: dict[str, list[Load]] = {}
    drains: list[dict[str, float]] = []
    if args.drain_only:
        for rep in range(args.reps):
            drains.append(drain(site, worker_env, Path(data_dir) / "drain.log", started, args.drain))
            print(f"  rep {rep + 1}, drain: {drains[-1]}", flush=True)
        return loads, drains
    web_env = env | ({"DB_POOL_SIZE": str(args.web_pool)} if args.web_pool else {})
    with Web(web_env, Path(data_dir) / "uvicorn.log", args.web_processes, shlex.split(args.web_prefix)) as web:
        baseline_url = f"http://127.0.0.1:{web.port}/bench/baseline"
        trigger_url = f"http://127.0.0.1:{web.port}/api/v1/workflows/{site.workflow_id}/runs"
        for rep in range(args.reps):
            with EngineWorker(worker_env, Path(data_dir) / "worker.log", *started) as worker:
                if rep == 0:
                    warm_up(trigger_url, script, web, worker)
                drives = [
                    (f"c={c}", partial(wrk, script=script, connections=c, seconds=args.seconds)) for c in CONNECTIONS
                ]
                drives.append(
                    (paced_name(args.rate), partial(paced_load, token=site.token, rate=args.rate, seconds=args.seconds))
                )
                for name, drive in drives:
                    baseline = baseline_load(drive, baseline_url, web, worker)
                    loads.setdefault(f"baseline {name}", []).append(baseline)
                    load = trigger_load(drive, trigger_url, web, worker)
                    loads.setdefault(f"trigger {name}", []).append(load)
                    if name == "c=1":
                        alone = trigger_load(drive, trigger_url, web, worker, paused=True)
                        loads.setdefault(PAUSED, []).append(alone)
                    print(
                        f"  rep {rep + 1}, {name:>12}: baseline {baseline.per_s:6.1f}/s p50 "
                        f"{baseline.p50_ms:6.1f} ms; trigger {load.per_s:6.1f}/s p50 {load.p50_ms:6.1f} p99 "
                        f"{load.p99_ms:6.1f} ms, runs {load.runs_per_s:6.1f}/s, non-2xx {load.non_2xx}, "
                        f"not succeeded {load.not_succeeded}"
                        + (f", generator CPU {load.generator_cpu_s:.2f} s" if load.generator_cpu_s else ""),
                        flush=True,
                    )
            if args.drain:
                drains.append(drain(site, worker_env, Path(data_dir) / "drain.log", started, args.drain))
                print(f"  rep {rep + 1}, drain: {drains[-1]}", flush=True)
    return loads, drains


def warm_up(url: str, script: Path, web: Web, worker: EngineWorker) -> None:
    """Not counted: imports, prepared statements, and planner statistics for tables the setup emptied."""
    from django.db import connection

    trigger_load(partial(wrk, script=script, connections=16, seconds=3), url, web, worker)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE engine_run, engine_noderun, engine_runevent")


def verdicts(loads: dict[str, list[Load]], drains: list[dict[str, float]], queued: int, rate: float) -> list[str]:
    targets: list[tuple[str, float, float, str]] = []
    lines = [
        f"  {'':<22}{'req/s':>9}{'runs/s':>9}{'p50':>8}{'p90':>8}{'p99':>8}{'non2xx':>7}{'sock':>6}{'bad':>6}"
        f"{'web ms':>7}{'wk ms':>7}{'host':>6}",
        *(table_row(name, values) for name, values in loads.items()),
    ]
    if loads:
        p50 = {name: median([x.p50_ms for x in values]) for name, values in loads.items()}
        at_rate = loads[f"trigger {paced_name(rate)}"]
        lines.append(
            f"  (c=: wrk's closed loop; {paced_name(rate)}: {PACED_CONNECTIONS} connections at a fixed offered rate,"
            " latency from the scheduled send; paced generator CPU "
            f"{median([x.generator_cpu_s * 1000 / x.requests for x in at_rate if x.requests]):.2f} ms/request)"
        )
        lines.append(
            f"  ({PAUSED}: the worker stopped during the load, its runs ended after it: the trigger's latency"
            f" without the worker beside it, {p50[PAUSED] / p50['baseline c=1']:.2f}x the baseline's p50; a"
            " diagnostic, not a target)"
        )
        targets = [
            ("trigger p50 / baseline p50 at 1 conn", p50["trigger c=1"] / p50["baseline c=1"], 2.0, "max"),
            (f"runs/s end to end, {paced_name(rate)}", median([x.runs_per_s for x in at_rate]), 100.0, "min"),
            (f"trigger p99, {paced_name(rate)}, ms", median([x.p99_ms for x in at_rate]), 150.0, "max"),
            ("runs/s end to end, c=16", median([x.runs_per_s for x in loads["trigger c=16"]]), 100.0, "min"),
            ("trigger p99, c=16, ms", median([x.p99_ms for x in loads["trigger c=16"]]), 150.0, "max"),
        ]
    if drains:
        lines.append(
            f"  drain of {queued} queued runs, one worker: {median([d['drain_per_s'] for d in drains]):.1f}"
            f" runs/s, worker CPU {median([d['worker_cpu_ms'] for d in drains]):.1f} ms/run, PostgreSQL backends'"
            f" CPU {median([d['database_cpu_ms'] for d in drains]):.1f} ms/run; start_run in process"
            f" {median([d['start_ms'] for d in drains]):.1f} ms/run; worker RSS "
            f"{median([d['rss_before'] for d in drains]):.0f} MB before, "
            f"{median([d['rss_after'] for d in drains]):.0f} MB after"
        )
        targets.append(("drain, runs/s", median([d["drain_per_s"] for d in drains]), 150.0, "min"))
    lines.append(f"\n  {'target':<40}{'value':>9}{'limit':>9}  verdict")
    for label, value, limit, kind in targets:
        ok = value <= limit if kind == "max" else value >= limit
        lines.append(f"  {label:<40}{value:>9.2f}{limit:>9.1f}  {'PASS' if ok else 'MISS'}")
    bad = sum(x.not_succeeded for values in loads.values() for x in values) + sum(d["bad"] for d in drains)
    lines.append(f"  runs lost or not succeeded: {bad:.0f}  {'PASS' if bad == 0 else 'MISS'}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="length of each load")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--web-processes", type=int, default=2, help="uvicorn --workers")
    parser.add_argument("--web-pool", type=int, default=8, help="DB_POOL_SIZE of each uvicorn process (0: none)")
    parser.add_argument("--worker-args", default=WORKER_ARGS, help="pool and concurrency of the Celery worker")
    parser.add_argument(
        "--worker-pool", type=int, default=0, help="DB_POOL_SIZE of the worker (0: none, DB_CONN_MAX_AGE=60 instead)"
    )
    parser.add_argument(
        "--worker-prefix",
        default="",
        help="a command the worker runs under, as a deployment's Nice= would set it: 'nice -n 10', 'chrt --idle 0'",
    )
    parser.add_argument(
        "--web-prefix",
        default="",
        help="a command the web processes run under, as a deployment's Nice= would set it: 'nice -n -5'",
    )
    parser.add_argument(
        "--rate", type=float, default=110.0, help=f"offered requests/s, paced phase ({PACED_CONNECTIONS} conn)"
    )
    parser.add_argument("--drain", type=int, default=5000, help="runs queued for the drain (0: skip it)")
    parser.add_argument("--drain-only", action="store_true", help="only the drain: no web server, no load")
    args = parser.parse_args()
    if args.drain_only and not args.drain:
        parser.error("--drain-only needs --drain above 0")
    if shutil.which("wrk") is None and not args.drain_only:
        print("could not measure: wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 1
    print("\n".join(report.environment()[:3]), flush=True)
    if not args.drain_only:
        web = " ".join([args.web_prefix, f"uvicorn --workers {args.web_processes}"]).strip()
        print(f"web: {web}, DB_POOL_SIZE={args.web_pool}", flush=True)
    database = ", ".join(f"{name}={value}" for name, value in worker_database(args.worker_pool).items())
    print(f"worker: {' '.join([args.worker_prefix, args.worker_args]).strip()}, {database}", flush=True)
    data_dir = tempfile.mkdtemp(prefix="switchyard-api-bench-")
    # Stopped by SIGTERM (`timeout`, `kill`), it stops its server and worker as on Ctrl-C, leaving none behind.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(f"could not measure: stopped (logs kept in {data_dir})"))
    try:
        loads, drains = measure(args, data_dir)
    except CouldNotMeasure as error:
        print(f"\ncould not measure: {error}\n(logs kept in {data_dir})", file=sys.stderr)
        return 1
    print(f"\nResults: medians of {args.reps} repetitions" + ("" if args.drain_only else f" of {args.seconds} s each"))
    print("\n".join(verdicts(loads, drains, args.drain, args.rate)))
    print(f"\nload average at the end: {' '.join(f'{value:.2f}' for value in os.getloadavg())}")
    shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
