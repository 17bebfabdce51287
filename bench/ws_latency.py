"""Websocket latency on the real stack: uvicorn (1 process, or --web-processes), 1 Celery worker, Redis, PostgreSQL.

    .venv/bin/python bench/ws_latency.py [--clients 100] [--commits 200] [--interval-ms 20] [--triggers 30]

1. Commit to receipt: --clients sockets follow one run on /ws/runs/<id>/ and first sit idle
   --idle-s (as while a slow node runs). This process then commits node status changes through
   engine.events.change, the engine's own path (the prompt is published after the commit), and
   stamps each commit in an on_commit hook that runs before the publish. Latency = arrival at a
   client minus commit, per (client, seq); paced (one commit every --interval-ms) and burst
   (back to back). Target: paced p95 <= 50 ms.
2. Trigger to first event: --clients sockets on /ws/workspace/, then --triggers times, one run
   at a time, POST /api/v1/workflows/<id>/runs (trigger -> transform -> reply) and the time from
   sending it to the 202, to each workspace socket's first run.updated for the run, to the first
   event on a run socket opened after the 202, and to run.succeeded on that socket.

Setup and clients: bench/ws_clients.py. Exit status: 0 measured (a missed target is reported,
not an error), 1 could not measure, 2 a socket missed, repeated or reordered an event or was
dropped (a bug).
"""

import argparse
import asyncio
import json
import math
import os
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script, the repo root is not on the path

from bench.ws_clients import CouldNotMeasure, Site, Stack, environment, listen, make_site, open_socket, prepare

TARGET_P95_MS = 50.0
ENDED = {"run.succeeded", "run.failed", "run.cancelled"}


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(len(ordered) * q / 100) - 1)]


def summary(values: list[float]) -> str:
    if not values:
        return "no samples"
    ps = "  ".join(f"p{q} {pct(values, q):7.1f}" for q in (50, 95, 99))
    return f"{ps}  max {max(values):7.1f} ms  (n={len(values)})"


def commit_events(run_id: int, count: int, interval: float, stamps: dict[int, float]) -> None:
    """In a thread, as the ORM is sync. Each `change` is one transaction; the stamp hook runs before the publish."""
    from django.db import connection, transaction

    from engine.event_types import EventType
    from engine.events import change

    began = time.monotonic()
    try:
        for i in range(count):
            time.sleep(max(0.0, began + i * interval - time.monotonic()))  # a fixed schedule, so no drift
            with change(run_id) as step:
                step.event(EventType.NODE_RUNNING, "bench", attempt=1)
                seq = step.run.last_seq
                transaction.on_commit(lambda seq=seq: stamps.__setitem__(seq, time.time()))  # type: ignore[misc]
    finally:
        connection.close()


async def commit_latency(
    stack: Stack, site: Site, clients: int, count: int, interval: float, idle: float = 0
) -> tuple[list[float], list[str], str]:
    from asgiref.sync import sync_to_async

    from engine.models import Run

    after = (await sync_to_async(Run.objects.get)(pk=site.run_id)).last_seq
    path = f"/ws/runs/{site.run_id}/?after={after}"
    opened = await asyncio.gather(*(open_socket(site, path) for _ in range(clients)))
    inboxes, readers = listen(opened, after + count)
    await asyncio.sleep(idle)  # a socket must outlive a quiet spell
    stamps: dict[int, float] = {}
    cpu = {name: stack.cpu_seconds(name) for name in ("uvicorn", "bench", "host")}
    began = time.monotonic()
    await asyncio.to_thread(commit_events, site.run_id, count, interval, stamps)
    await asyncio.wait(readers, timeout=30)
    wall = time.monotonic() - began
    used = {name: (stack.cpu_seconds(name) - cpu[name]) / wall for name in cpu}
    load = f"CPU: uvicorn {used['uvicorn']:.0%}, bench {used['bench']:.0%} of a core; machine {used['host']:.0%} busy"
    await asyncio.gather(*(sock.close() for sock, _ in opened), return_exceptions=True)
    latencies, problems = [], []
    for n, inbox in enumerate(inboxes):
        seqs = [m["seq"] for m, _ in inbox if m["type"] == "event"]
        if seqs != list(range(after + 1, after + count + 1)):
            last = inbox[-1][0] if inbox else "nothing"
            problems.append(f"run socket {n}: {len(seqs)} of {count} events, {len(set(seqs))} distinct, last {last}")
        latencies += [(at - stamps[m["seq"]]) * 1000 for m, at in inbox if m.get("seq") in stamps]
    return latencies, problems, f"{wall:.1f} s; {load}"


async def trigger_latency(site: Site, clients: int, reps: int) -> tuple[dict[str, list[float]], list[str]]:
    names = ("202 Accepted", "workspace sockets: run.updated", "run socket: first event", "run socket: run.succeeded")
    figures: dict[str, list[float]] = {name: [] for name in names}
    boards = await asyncio.gather(*(open_socket(site, "/ws/workspace/") for _ in range(clients)))
    inboxes, readers = listen(boards, 2**62)
    sent: dict[int, float] = {}
    headers = {"Cookie": site.cookie, "X-CSRFToken": site.csrf}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{site.port}", trust_env=False, timeout=30) as http:
        for _ in range(reps):
            await asyncio.sleep(0.2)  # one run at a time: latency, not queueing
            began = time.time()
            answer = await http.post(f"/api/v1/workflows/{site.workflow_id}/runs", json={"input": {}}, headers=headers)
            figures["202 Accepted"].append((time.time() - began) * 1000)
            if answer.status_code != 202:
                raise CouldNotMeasure(f"POST runs answered {answer.status_code}: {answer.text[:300]}")
            run_id = answer.json()["id"]
            sent[run_id] = began
            first, message = None, dict[str, Any]()
            sock, _ = await open_socket(site, f"/ws/runs/{run_id}/?after=0")
            async with sock:
                while message.get("event") not in ENDED:
                    message, at = json.loads(await asyncio.wait_for(sock.recv(), 30)), time.time()
                    first = first or (at if message["type"] == "event" else None)
            if message["event"] != "run.succeeded":
                raise CouldNotMeasure(f"run {run_id} ended {message['event']}: {message['payload']}")
            figures["run socket: first event"].append((first - began) * 1000)
            figures["run socket: run.succeeded"].append((at - began) * 1000)
    await asyncio.sleep(1)  # the last run.updated prompts may still be on their way
    for task in readers:
        task.cancel()
    await asyncio.gather(*(sock.close() for sock, _ in boards), return_exceptions=True)
    problems = []
    for n, inbox in enumerate(inboxes):
        firsts: dict[int, float] = {}
        for message, at in inbox:
            if message["type"] == "run.updated":
                firsts.setdefault(message["run"], at)
            elif message["type"] == "closed":
                problems.append(f"workspace socket {n}: dropped ({message['code']})")
        figures["workspace sockets: run.updated"] += [(firsts[r] - t) * 1000 for r, t in sent.items() if r in firsts]
        if len(firsts) < len(sent):
            problems.append(f"workspace socket {n}: run.updated for {len(firsts)} of {len(sent)} runs")
    return figures, problems


async def measure(stack: Stack, site: Site, args: argparse.Namespace) -> int:
    interval = args.interval_ms / 1000
    paced, bad, paced_load = await commit_latency(stack, site, args.clients, args.commits, interval, args.idle_s)
    burst, bad_burst, burst_load = await commit_latency(stack, site, args.clients, args.commits, 0)
    print(f"\ncommit -> receipt, {args.clients} sockets on one run, every (socket, seq) pair:")
    print(f"  paced, 1 commit / {args.interval_ms:g} ms   {summary(paced)}   [{paced_load}]")
    print(f"  burst, {args.commits} back to back   {summary(burst)}   [{burst_load}]")
    figures, bad_trigger = await trigger_latency(site, args.clients, args.triggers)
    print(f"\ntrigger -> event, from sending the POST; {args.triggers} runs, {args.clients} workspace sockets:")
    for name, values in figures.items():
        print(f"  {name:32} {summary(values)}")
    problems = bad + bad_burst + bad_trigger
    print(f"\ndelivery: {'every socket got every event once, in order' if not problems else 'BROKEN'}")
    for problem in problems[:10]:
        print(f"  {problem}")
    if not paced:
        raise CouldNotMeasure("no client received any event")
    verdict = "PASS" if pct(paced, 95) <= TARGET_P95_MS else "MISS"
    print(f"{verdict}: paced commit -> receipt p95 {pct(paced, 95):.1f} ms (target <= {TARGET_P95_MS:g} ms)")
    return 2 if problems else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--commits", type=int, default=200)
    parser.add_argument("--interval-ms", type=float, default=20)
    parser.add_argument("--triggers", type=int, default=30)
    parser.add_argument("--idle-s", type=float, default=8, help="quiet time before the paced commits")
    parser.add_argument("--web-processes", type=int, default=1, help="uvicorn worker processes (--workers)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="switchyard-bench-ws-") as data_dir:
        try:
            env = prepare(data_dir)
            site = make_site()
            with Stack(env, data_dir, web_processes=args.web_processes) as stack:
                site.port = stack.port
                print(f"$ .venv/bin/python bench/ws_latency.py {' '.join(sys.argv[1:])}".rstrip())
                print(environment())
                print(
                    f"{args.web_processes} uvicorn process(es), 1 Celery worker (threads x 8); "
                    f"settings {os.environ['DJANGO_SETTINGS_MODULE']}"
                )
                status = asyncio.run(measure(stack, site, args))
            # A crashed consumer is what a dropped socket looks like from the client: name what crashed it.
            crashes = Counter(
                e.strip().splitlines()[-1]
                for e in re.split("^ERROR:", stack.log("uvicorn").read_text(), flags=re.M)[1:]
            )
            for error, count in crashes.items():
                print(f"uvicorn logged {count} x {error[:160]}")
            return status
        except (CouldNotMeasure, OSError, TimeoutError, websockets.WebSocketException, httpx.HTTPError) as error:
            print(f"could not measure: {type(error).__name__}: {error}", file=sys.stderr)
            return 1


if __name__ == "__main__":
    sys.exit(main())
