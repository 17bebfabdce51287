"""What one full garbage collection costs a web and a worker process, with and without their start's heap frozen.

    .venv/bin/python bench/full_collection.py [--reps 5] [--requests 2000]

A full collection (generation 2) walks every object the process tracks and holds the GIL
while it does: every request or node thread of the process waits. Python runs one whenever
enough objects have outlived two younger collections, every few thousand requests in a web
process. Each process here loads what it loads at start, as deployed: the web process imports
the ASGI application (`config.asgi`, which loads the URLconf and every view and then freezes
the heap, config/startup_heap.py) and serves --requests API triggers through it in process
(bench/asgi_request_cost.py's, on its database); the worker imports Celery's app and every
task module, then freezes as `celery worker` does once it consumes. Then, in that same
process, it times `gc.collect()` with the start's objects frozen, as the processes run now,
and unfrozen (`gc.unfreeze()`), as before. Each figure is the median of --reps collections,
in CPU time of the collecting thread. Uses database bench_asgi_cost and Redis db 10 (emptied
first), unless BENCH_ASGI_DATABASE and BENCH_ASGI_REDIS name others.
"""

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script, the repo root is not on the path

from bench import asgi_request_cost
from bench.database import SERVER, own_services

PROCESSES = ("web", "worker")


def load(process: str, requests: int) -> None:
    """Start as `process` does, with the production settings; the web process then serves `requests` triggers."""
    if process == "worker":
        own_services(
            f"{SERVER}/{os.environ.get('BENCH_ASGI_DATABASE', 'bench_asgi_cost')}",
            os.environ.get("BENCH_ASGI_REDIS", "redis://127.0.0.1:6379/10"),
            tempfile.mkdtemp(prefix="full-gc-"),
        )
        from config import startup_heap
        from config.celery import app

        app.loader.import_default_modules()  # every app's tasks module, as `celery worker` imports them at start
        startup_heap.freeze()  # as the worker does once it consumes (config/celery.py)
        return
    asgi_request_cost.prepare()
    trigger = asgi_request_cost.requests()["trigger"]
    from config.asgi import application  # as uvicorn imports it: it freezes the heap itself, last

    async def serve() -> None:
        for _ in range(requests):
            if await asgi_request_cost.call(application, trigger) >= 300:
                raise SystemExit("the trigger did not answer 2xx")

    asyncio.run(serve())


def collect_ms(reps: int) -> float:
    """The median CPU time of one full collection, in ms."""
    times = []
    for _ in range(reps):
        start = time.thread_time()
        gc.collect()
        times.append((time.thread_time() - start) * 1000)
    return statistics.median(times)


def measure(process: str, reps: int, requests: int) -> dict[str, float]:
    """In this process: start as `process` does, then time full collections frozen and unfrozen."""
    load(process, requests)
    got = {"frozen_tracked": len(gc.get_objects()), "frozen_ms": collect_ms(reps)}
    gc.unfreeze()
    return got | {"unfrozen_tracked": len(gc.get_objects()), "unfrozen_ms": collect_ms(reps)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--requests", type=int, default=2000, help="API triggers the web process serves first")
    parser.add_argument("--process", choices=PROCESSES, help=argparse.SUPPRESS)  # one process's own measurement
    args = parser.parse_args()
    if args.process:
        print(json.dumps(measure(args.process, args.reps, args.requests)))
        return 0
    print(
        f"Full collections, median of {args.reps} each, CPU ms of the collecting thread;"
        f" the web process after {args.requests} API triggers"
    )
    print(f"  {'process':8} {'tracked':>9} {'unfrozen':>10} {'tracked':>9} {'frozen':>8} {'ratio':>7}")
    worst = 0.0
    for process in PROCESSES:
        command = [sys.executable, __file__, "--process", process, "--reps", str(args.reps)]
        command += ["--requests", str(args.requests)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(f"could not measure the {process} process: {done.stderr[-1500:]}", file=sys.stderr)
            return 1
        got = json.loads(done.stdout.strip().splitlines()[-1])
        ratio = got["frozen_ms"] / got["unfrozen_ms"]
        worst = max(worst, ratio)
        print(
            f"  {process:8} {got['unfrozen_tracked']:>9,} {got['unfrozen_ms']:>8.1f}ms"
            f" {got['frozen_tracked']:>9,} {got['frozen_ms']:>6.2f}ms {ratio:>7.3f}"
        )
    verdict = "PASS" if worst <= 0.1 else "MISS"
    print(f"\n  a frozen full collection at most a tenth of an unfrozen one, in both processes: {worst:.3f}  {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
