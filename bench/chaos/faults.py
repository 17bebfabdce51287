"""The chaos schedule: a fault every 5-20 s while runs are started, drawn from a seeded random generator.

Most faults SIGKILL a prefork worker's pool process or a whole worker (its process group);
at a quarter, half and three quarters of the window Redis is restarted gracefully, then
with `kill -9`, then PostgreSQL is restarted (fast shutdown: every client is disconnected).
"""

import os
import random
import signal
import threading
import time
from dataclasses import dataclass, field

from bench.chaos.services import PostgreSQL, Redis
from bench.chaos.stack import Stack

GAP_S = (5.0, 20.0)
RESTARTS = {0.25: "redis restart (SIGTERM)", 0.5: "redis restart (kill -9)", 0.75: "postgresql restart"}


@dataclass
class Fault:
    at: float  # wall clock
    what: str
    pids: list[int] = field(default_factory=list)
    down_s: float = 0.0


def plan(window_s: float, rng: random.Random) -> list[tuple[float, str]]:
    """(seconds from the start, fault) for the window: kills at random gaps, the three restarts at their marks."""
    faults = [(mark * window_s, what) for mark, what in RESTARTS.items()]
    at = rng.uniform(*GAP_S)
    while at < window_s:
        faults.append((at, rng.choice(["kill a pool process", "kill a pool process", "kill a worker"])))
        at += rng.uniform(*GAP_S)
    return sorted(faults)


@dataclass
class Chaos:
    stack: Stack
    redis: Redis
    postgres: PostgreSQL
    rng: random.Random
    down_s: float = 2.0
    faults: list[Fault] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def run(self, schedule: list[tuple[float, str]], stop: threading.Event) -> None:
        began = time.monotonic()
        for offset, what in schedule:
            if stop.wait(max(0.0, began + offset - time.monotonic())):
                return
            try:
                fault = self.inflict(what)
                self.faults.append(fault)
                print(f"  +{offset:5.1f} s  {fault.what}", flush=True)
            except Exception as error:  # noqa: BLE001  (a fault that could not be made is reported, not fatal)
                self.errors.append(f"{what}: {error!r}")

    def inflict(self, what: str) -> Fault:
        fault = Fault(time.time(), what)
        if what == "kill a pool process":
            with self.stack.lock:
                worker = self.rng.choice([w for w in self.stack.workers if w.alive()] or self.stack.workers)
                children = worker.children()
                if children:
                    fault.pids = [self.rng.choice(children)]
                    fault.what = f"kill a pool process of {worker.name}"
                    worker.children_killed += 1
                    os.kill(fault.pids[0], signal.SIGKILL)
                    return fault
                fault.what = "kill a worker"
        if fault.what == "kill a worker":
            with self.stack.lock:
                worker = self.rng.choice([w for w in self.stack.workers if w.alive()] or self.stack.workers)
                fault.pids = worker.group()
                fault.what = f"kill {worker.name} (its process group)"
                worker.kill_group()
            return fault
        began = time.monotonic()
        if what.startswith("redis"):
            self.redis.stop(signal.SIGKILL if "kill -9" in what else signal.SIGTERM)
            time.sleep(self.down_s)
            self.redis.start()
        else:
            self.postgres.stop("fast")
            time.sleep(self.down_s)
            self.postgres.start()
        fault.down_s = time.monotonic() - began
        return fault
