"""The channel-layer publisher's CPU per published change, from as many threads as a worker has (engine.live).

    REDIS_URL=redis://127.0.0.1:6379/3 .venv/bin/python bench/publisher.py [--threads 8] [--changes 2000] [--reps 5]

--threads threads start together and each publishes --changes changes of its own run with
live.publish, as node threads do after their commits; a receiver in this process, subscribed
to every run's group on the real channel layer (Redis pub/sub), counts the prompts until all
have arrived. Printed per change, medians of --reps: the CPU of the publishing threads (their
hand-off), the CPU of the publisher's own thread (its loop and the sends), and the wall time
to the last prompt. The receiver's CPU is left out. Then the path a websocket prompt takes
when the publisher is idle: --paced changes one every 20 ms from one thread, and the time
from live.publish to the prompt's arrival at the receiver, p50 and p95. Uses the database switchyard_bench_publisher
(Django needs one; nothing is written) and REDIS_URL's db (db 3 by default). Exit status 0.
"""

import argparse
import asyncio
import math
import os
import statistics
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script, the repo root is not on the path

from bench.database import use_own_database

use_own_database("switchyard_bench_publisher", redis_db=3)

from channels.layers import channel_layers  # noqa: E402  (after Django is set up)

from engine import live  # noqa: E402
from engine.event_types import EventType  # noqa: E402
from engine.models import RunEvent  # noqa: E402


def thread_cpu_ns(native_id: int) -> int:
    """CPU time a thread of this process has used, from the kernel's scheduler statistics."""
    return int(Path(f"/proc/self/task/{native_id}/schedstat").read_text().split()[0])


class Receiver:
    """A subscriber to every run's group on its own loop and thread, as a web process is."""

    def __init__(self, run_ids: list[int]) -> None:
        self.count = 0
        self.wanted = 0
        self.arrivals: dict[int, float] = {}
        self.done = threading.Event()
        self.ready = threading.Event()
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_until_complete, args=(self.receive(run_ids),), daemon=True).start()
        self.ready.wait(30)

    async def receive(self, run_ids: list[int]) -> None:
        layer = channel_layers.make_backend("default")
        channel = await layer.new_channel()
        for run_id in [0, *run_ids]:
            await layer.group_add(live.run_group(run_id), channel)
        while not self.ready.is_set():  # a subscription takes effect asynchronously: wait until a prompt arrives
            live.publish(0, 0, [event(0)], None)
            try:
                await asyncio.wait_for(layer.receive(channel), 0.2)
                self.ready.set()
            except TimeoutError:
                pass
        while True:
            message = await layer.receive(channel)
            if message["type"] == "run.hint" and message["seq"] > 0:
                self.arrivals[message["seq"]] = time.monotonic()
                self.count += 1
                if self.count == self.wanted:
                    self.done.set()

    def expect(self, count: int) -> None:
        self.count, self.wanted = 0, count
        self.done.clear()


def event(seq: int) -> RunEvent:
    return RunEvent(seq=seq, type=EventType.NODE_RUNNING, node_id="shape", payload={}, created_at=datetime.now(UTC))


def publisher_thread() -> int:
    [thread] = [t for t in threading.enumerate() if t.name == "channel-publisher"]
    assert thread.native_id is not None
    return thread.native_id


def one_rep(threads: int, changes: int, first_run: int, receiver: Receiver) -> tuple[float, float, float]:
    """Per change: the publishing threads' CPU, the publisher thread's CPU, the wall time (µs)."""
    receiver.expect(threads * changes)
    start = threading.Barrier(threads + 1)
    cpu: list[float] = []
    events = [[event(seq)] for seq in range(1, changes + 1)]

    def node_thread(run_id: int) -> None:
        start.wait()
        began = time.thread_time()
        for seq in range(changes):
            live.publish(run_id, 0, events[seq], None)
        cpu.append(time.thread_time() - began)

    workers = [threading.Thread(target=node_thread, args=(first_run + i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    loop_thread = publisher_thread()
    loop_before = thread_cpu_ns(loop_thread)
    began = time.monotonic()
    start.wait()
    for worker in workers:
        worker.join()
    if not receiver.done.wait(120):
        sys.exit(f"only {receiver.count} of {receiver.wanted} prompts arrived")
    wall = time.monotonic() - began
    total = threads * changes
    return sum(cpu) / total * 1e6, (thread_cpu_ns(loop_thread) - loop_before) / total / 1e3, wall / total * 1e6


def paced(changes: int, run_id: int, receiver: Receiver) -> list[float]:
    """Milliseconds from live.publish to arrival, for `changes` changes 20 ms apart (the publisher idle between)."""
    receiver.expect(changes)
    sent = {}
    began = time.monotonic()
    for seq in range(1, changes + 1):
        time.sleep(max(0.0, began + (seq - 1) * 0.02 - time.monotonic()))  # a fixed schedule, so no drift
        sent[seq] = time.monotonic()
        live.publish(run_id, 0, [event(seq)], None)
    if not receiver.done.wait(60):
        sys.exit(f"only {receiver.count} of {receiver.wanted} paced prompts arrived")
    return sorted((receiver.arrivals[seq] - sent[seq]) * 1000 for seq in sent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--changes", type=int, default=2000, help="per thread")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--paced", type=int, default=250, help="changes one every 20 ms, for latency")
    args = parser.parse_args()
    runs = [1 + i for i in range(args.threads)]
    receiver = Receiver(runs)
    one_rep(args.threads, 100, runs[0], receiver)  # warm-up: connections open, code paths taken
    results = [one_rep(args.threads, args.changes, runs[0], receiver) for _ in range(args.reps)]
    node_us, loop_us, wall_us = (statistics.median(column) for column in zip(*results, strict=True))
    print(f"load average {os.getloadavg()[0]:.1f}; {args.threads} threads x {args.changes} changes, {args.reps} reps")
    for rep, (node, loop, wall) in enumerate(results, 1):
        print(f"  rep {rep}: node threads {node:.1f} us, publisher thread {loop:.1f} us, wall {wall:.1f} us per change")
    print(
        f"median per change: node threads' CPU {node_us:.1f} us, publisher thread's CPU {loop_us:.1f} us, "
        f"total {node_us + loop_us:.1f} us; wall {wall_us:.1f} us ({1e6 / wall_us:.0f} changes/s)"
    )
    latencies = paced(args.paced, runs[0], receiver)
    p50, p95 = (latencies[max(0, math.ceil(len(latencies) * q) - 1)] for q in (0.5, 0.95))
    print(f"paced, 1 change / 20 ms: publish -> arrival p50 {p50:.2f} ms, p95 {p95:.2f} ms (n={len(latencies)})")


if __name__ == "__main__":
    main()
