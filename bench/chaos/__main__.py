"""Infrastructure faults under load, on the production stack with a PostgreSQL and a Redis of its own.

    .venv/bin/python -m bench.chaos [--runs 120] [--rate 1.0] [--latency 0.5] [--lease 12] [--seed 19]
                                      [--redis-without-data] [--keep]

Starts a private PostgreSQL (the Debian binaries, initdb into a temporary directory) and a
private redis-server on free ports, never the services on 5432 and 6379; then uvicorn, two
prefork Celery workers (concurrency 4) and beat under a supervisor that restarts whatever
exits and counts the exits it did not cause; a fake model server and a receiver on 127.0.0.1.
The workflow calls the model twice in parallel, POSTs twice and replies with a callback; each
run also has a completion webhook. `--runs` runs are started through the API with a token at
`--rate` per second with no fault (the fault-free phase), then as many again while the chaos
schedule runs (bench/chaos/faults.py): SIGKILLs of pool processes and whole workers every
5-20 s, Redis restarted gracefully and with kill -9, PostgreSQL restarted.
Printed: runs succeeded/failed/stuck, effects repeated (after an unknown outcome or after a
known answer), cost entries missing or duplicated against the calls the model server
answered, API 5xx (500 apart), workers dead without the supervisor's doing, trigger→end
p50/p95/max of both phases and the ratio of their p95s, and the verdict per target.
Exit status: 0 when it ran (a missed target is reported), 1 when it could not run.
"""

import argparse
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT))

from bench import report  # noqa: E402
from bench.chaos import faults, figures, timeline  # noqa: E402
from bench.chaos.outside import ModelServer, Receiver  # noqa: E402
from bench.chaos.services import PostgreSQL, Redis, ServiceFailed, free_port  # noqa: E402
from bench.chaos.stack import Stack  # noqa: E402
from bench.chaos.workload import Setup, Triggering, set_up  # noqa: E402
from bench.workers import base_env  # noqa: E402


class CouldNotRun(Exception):
    pass


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=120, help="runs per phase (fault-free, then chaos)")
    parser.add_argument("--rate", type=float, default=1.0, help="runs started per second")
    parser.add_argument("--latency", type=float, default=0.5, help="the model server's seconds per call")
    parser.add_argument("--receiver-delay", type=float, default=0.05, help="the receiver's seconds per POST")
    parser.add_argument("--lease", type=int, default=12, help="ENGINE_LEASE_SECONDS (12, the default, as deployed)")
    parser.add_argument("--seed", type=int, default=19, help="of the chaos schedule")
    parser.add_argument("--drain", type=float, default=180, help="seconds to wait for runs to end after a phase")
    parser.add_argument("--redis-without-data", action="store_true", help="Redis without AOF: a restart loses all")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory with every process's log")
    args = parser.parse_args()
    if args.runs < 2 or args.rate <= 0:
        parser.error("--runs must be at least 2 and --rate above 0")
    return args


def django_env(postgres: PostgreSQL, redis: Redis, data_dir: Path, lease_s: int) -> dict[str, str]:
    return {
        "DATABASE_URL": postgres.url,
        "REDIS_URL": redis.url,
        "SECRET_KEY": "bench-only-secret-key-not-used-for-anything-real-0123456789",
        "SWITCHYARD_DATA_DIR": str(data_dir),
        "ENGINE_LEASE_SECONDS": str(lease_s),
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }


def wait_for_workers(stack: Stack, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for worker in stack.workers:
        while " ready." not in worker.log_tail(200_000):
            if time.monotonic() > deadline:
                raise CouldNotRun(f"{worker.name} did not get ready:\n{worker.log_tail()}")
            time.sleep(0.2)


def drain(phases: list[figures.Phase], workspace_id: int, timeout: float) -> float:
    """Wait until every run of `phases` ended, or `timeout`; returns the seconds waited."""
    from django.db import connection

    began = time.monotonic()
    while True:
        connection.close()  # PostgreSQL may have restarted under this process's connection
        try:
            for phase in phases:
                figures.read_runs(phase, workspace_id)
        except Exception:  # noqa: BLE001  (PostgreSQL coming back: ask again)
            time.sleep(1)
            continue
        if all(phase.stuck() == 0 and not phase.never_started() for phase in phases):
            return time.monotonic() - began
        if all(phase.stuck() == 0 for phase in phases) and time.monotonic() - began > 10:
            return time.monotonic() - began  # runs whose trigger gave up never existed
        if time.monotonic() - began > timeout:
            return time.monotonic() - began
        time.sleep(1)


def phase(name: str, triggering: Triggering, args: argparse.Namespace) -> figures.Phase:
    print(f"{name}: starting {args.runs} runs at {args.rate:g}/s", flush=True)
    return figures.Phase(name, triggering.run_all(name, args.runs, args.rate))


def measure(args: argparse.Namespace, root: Path) -> list[str]:
    postgres = PostgreSQL(root)
    redis = Redis(root, persistent=not args.redis_without_data)
    persistence = "no persistence" if args.redis_without_data else "appendonly, fsync every second"
    print(f"postgresql {postgres.version()} on port {postgres.port}, redis on port {redis.port} ({persistence})")
    env = django_env(postgres, redis, root, args.lease)
    os.environ.update(env | {"LOG_LEVEL": "WARNING"})
    import django

    django.setup()
    stack: Stack | None = None
    model = ModelServer(args.latency)
    receiver = Receiver(
        args.receiver_delay, lambda: [pid for w in (stack.workers if stack else []) for pid in w.group()]
    )
    try:
        setup: Setup = set_up(model.url, receiver.url)
        # The per-token limit (60 a minute by default) would refuse the benchmark's own rate.
        production = env | {"LOG_LEVEL": "INFO", "API_TOKEN_TRIGGERS_PER_MINUTE": "100000"}
        stack = Stack(base_env(**production), root, free_port())
        stack.start()
        wait_for_workers(stack, 120)
        triggering = Triggering(f"http://127.0.0.1:{stack.port}", setup, receiver.url)
        warm = figures.Phase("warm-up", triggering.run_all("warm", 4, 4))
        drain([warm], setup.workspace_id, 60)
        if warm.stuck() or len(warm.runs) < 4:
            raise CouldNotRun(f"the warm-up runs did not end: {warm.runs}")
        triggering.statuses.clear()
        with receiver.lock, model.lock:  # the figures count the measured runs only
            receiver.deliveries.clear()
            model.calls.clear()

        calm = phase("fault-free", triggering, args)
        print(f"  drained in {drain([calm], setup.workspace_id, args.drain):.0f} s", flush=True)
        calm_statuses = dict(triggering.statuses)

        chaos = faults.Chaos(stack, redis, postgres, random.Random(args.seed))  # noqa: S311  (a schedule, not a secret)
        schedule = faults.plan(args.runs / args.rate, chaos.rng)
        stop = threading.Event()
        thread = threading.Thread(target=chaos.run, args=(schedule, stop), daemon=True)
        thread.start()
        storm = phase("chaos", triggering, args)
        thread.join()
        print(f"  {len(chaos.faults)} faults; drained in {drain([storm], setup.workspace_id, args.drain):.0f} s",
              flush=True)  # fmt: skip
        # Holds of calls cut off by a kill are billed by the reaper a lease after; webhooks back off 10 s.
        time.sleep(2 * args.lease + 5)
        drain([calm, storm], setup.workspace_id, 10)
        return results([calm, storm], calm_statuses, triggering, chaos, stack, model, receiver, args.lease)
    finally:
        if stack is not None:
            stack.stop()
        model.close()
        receiver.close()
        try:
            redis.stop()
            postgres.stop("fast")
        except ServiceFailed as error:
            print(f"(stopping the private services: {error})", file=sys.stderr)


def results(
    phases: list[figures.Phase],
    calm_statuses: dict[int, int],
    triggering: Triggering,
    chaos: faults.Chaos,
    stack: Stack,
    model: ModelServer,
    receiver: Receiver,
    lease_s: int,
) -> list[str]:
    calm, storm = phases
    lines = ["", "Faults inflicted during the chaos phase:"]
    began = storm.triggers[0].at
    lines += [
        f"  +{f.at - began:6.1f} s  {f.what}" + (f" (down {f.down_s:.1f} s)" if f.down_s else "") for f in chaos.faults
    ]
    lines += [f"  could not inflict: {error}" for error in chaos.errors]
    lines += ["", "Runs:"]
    for p in phases:
        lines.append(
            f"  {p.name:<12} {p.count('succeeded')} succeeded, {p.count('failed') + p.count('cancelled')} failed, "
            f"{p.stuck()} stuck, {len(p.never_started())} never started (of {len(p.triggers)})"
        )
    succeeded = [str(row.id) for p in phases for row in p.runs.values() if row.status == "succeeded"]
    with receiver.lock:
        deliveries = list(receiver.deliveries)
    repeats = figures.repeats(deliveries, chaos.faults, lease_s, succeeded)
    repeated_hooks, missing_hooks = figures.webhooks(deliveries, sum(len(p.ended()) for p in phases))
    with model.lock:
        bills = figures.bills(phases, list(model.calls))
    reserved, holds = figures.budget_left()
    statuses = dict(triggering.statuses)
    chaos_statuses = {code: n - calm_statuses.get(code, 0) for code, n in statuses.items()}
    five_hundreds = [error for error in triggering.server_errors if error.startswith("500")]
    dead = list(stack.deaths)
    dead_workers = [death for death in dead if death.name.startswith("worker")]
    at_startup = [death for death in dead_workers if death.at_startup()]
    lines += [
        "",
        f"Effects: {repeats.keys} effect keys POSTed, {repeats.repeated} more than once: "
        f"{repeats.after_unknown} repeats after an unknown outcome, {len(repeats.after_known)} after a known answer; "
        f"{repeats.missing} effects of succeeded runs never POSTed",
        *[f"    after a known answer: {line}" for line in repeats.after_known[:10]],
        f"Completion webhooks: {repeated_hooks} delivered more than once, {missing_hooks} ended runs without one",
        f"Model calls: {bills.answered} answered, {bills.cut_off} cut off (client gone); cost entries {bills.rows} "
        f"({bills.estimated} estimated): {bills.missing} answered calls unbilled, "
        f"{bills.duplicate} entries beyond the calls made",
        *[f"    unbilled: {line}" for line in bills.missing_at[:10]],
        f"Budgets after the runs: {reserved} reserved, {holds} holds left",
        f"API answers to triggers: fault-free {dict(sorted(calm_statuses.items()))}, "
        f"chaos {dict(sorted(chaos_statuses.items()))}; no answer {triggering.no_answer}; "
        f"5xx {sum(n for code, n in statuses.items() if code >= 500)}, of them 500 {statuses.get(500, 0)}",
        *[f"    {error}" for error in five_hundreds[:5]],
        f"Processes that exited without the schedule killing them: {len(dead)}, of them workers "
        f"{len(dead_workers)}: {len(dead_workers) - len(at_startup)} on their own, {len(at_startup)} because the "
        "schedule killed one of their pool processes while they started (Celery: 'Could not start worker processes')",
        *figures.deaths_lines(dead),
        "",
        "Trigger → end (the run's finished_at less the first trigger attempt's time):",
        figures.latency_line(calm),
        figures.latency_line(storm),
    ]
    verdict = figures.Verdict()
    lost = sum(p.count("failed") + p.count("cancelled") + p.stuck() + len(p.never_started()) for p in phases)
    verdict.target("runs lost (failed, stuck or never started)", lost, 0)
    verdict.target("workers dead on their own (without the supervisor)", len(dead_workers) - len(at_startup), 0)
    verdict.target("effects repeated after a known answer", len(repeats.after_known), 0)
    verdict.target("answered model calls unbilled", bills.missing, 0)
    verdict.target("API 500s", statuses.get(500, 0), 0)
    if calm.latencies() and storm.latencies():
        ratio = figures.p95(storm.latencies()) / figures.p95(calm.latencies())
        verdict.target("p95 trigger→end, chaos / fault-free", ratio, figures.P95_RATIO_TARGET, f"{ratio:.2f}x")
        threshold = figures.P95_RATIO_TARGET * figures.p95(calm.latencies())
        slow = timeline.slow_runs(storm, threshold, chaos.faults, stack.workers)
        lines += ["", *timeline.lines(slow, threshold, len(storm.latencies()))]
    return [*lines, "", "Targets:", *verdict.lines]


def main() -> int:
    args = arguments()
    print("\n".join(line for line in report.environment() if not line.startswith("workers:")), flush=True)
    root = Path(tempfile.mkdtemp(prefix="switchyard-chaos-"))
    root.chmod(0o755)  # the PostgreSQL cluster inside belongs to `postgres` when this runs as root
    began = time.monotonic()
    try:
        lines = measure(args, root)
    except (CouldNotRun, ServiceFailed, RuntimeError, OSError) as error:
        print(f"\ncould not run: {error}\n(logs kept in {root})", file=sys.stderr)
        return 1
    print("\n".join(lines))
    print(f"\nwall time {time.monotonic() - began:.0f} s; load average at the end: "
          f"{' '.join(f'{value:.2f}' for value in os.getloadavg())}")  # fmt: skip
    if args.keep:
        print(f"logs kept in {root}")
    else:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
