"""Lease holders: every worker process beats in Redis, and the leases of one that died are released at once.

A lease names the process that holds it: its owner is `<holder>/<batch>` (runner.worker_name).
The holder name is `host:pid:boot:space`: `boot` is when the process started (its start time
in /proc, in clock ticks since the kernel booted; a random token where there is no /proc),
so a worker restarted under the same host name, or a pool process given a recycled pid, is
never taken for its dead predecessor; `space` names the pid namespace the pid belongs to
(the kernel's boot id and the namespace, hashed).

Each worker process, a prefork pool process included, beats every quarter of
ENGINE_WORKER_SILENCE_S on a thread of its own, and at each beat looks for the dead:
- a holder in its own pid space (the same host, or the same container) is dead when /proc
  says so: no such process, a zombie, or another process under its pid. That needs no
  waiting, and a live process is never judged dead however long it went without beating
  (a process starved of CPU on a busy machine beats late; it is not dead);
- a holder elsewhere is dead when it has not beaten for ENGINE_WORKER_SILENCE_S (a missed
  beat or two is not death). Beats carry Redis's clock (TIME), so hosts' clocks do not
  matter, and silence counts only from Redis's last start: a restart never makes every
  worker look dead.
The first to see a holder dead (a worker's beat thread, or the reaper) takes it out of the
set, atomically so that only one releases it, and crashes its running nodes so that they are
claimed again at once instead of one lease after its last renewal; then the ready nodes whose
messages a worker took and has not acknowledged are sent again (engine.held_messages), since
a dead worker's would wait in Redis for the reaper's redispatch. A process judged dead
that was not (paused past ENGINE_WORKER_SILENCE_S on another host) finds its nodes taken when
it renews their leases, and its late outcome is refused: every write is fenced by attempt and
lease owner. Without Redis (the embedded mode: one process) there are no beats, and a lease
runs out as before.
"""

import functools
import hashlib
import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from celery.signals import worker_init, worker_process_init, worker_process_shutdown, worker_shutdown
from django.conf import settings
from django.db import connections

from engine import held_messages, runs
from engine.models import NodeRun, NodeStatus

log = logging.getLogger(__name__)
KEY = "switchyard:engine:lease-holders"
# Judged at most this many dead holders at a time; the rest at the next look.
JUDGED_AT_ONCE = 100
# Beats per ENGINE_WORKER_SILENCE_S: a holder is dead after this many missed beats.
BEATS_PER_SILENCE = 4

_BEAT = """
local now = tonumber(ARGV[2])
if now == nil then local t = redis.call('TIME'); now = t[1] + t[2] / 1000000 end
redis.call('ZADD', KEYS[1], now, ARGV[1])
return string.format('%.6f', now)
"""
# Pops the holders outside the pid space ARGV[4] (all, if it is '') silent for longer than ARGV[1] seconds at ARGV[2]
# (or Redis's now), with their last beats; returns them, then the holders of that pid space.
# Silence counts only from Redis's start: after a restart nobody had a chance to beat.
_JUDGE = """
local t = redis.call('TIME')
local server_now = t[1] + t[2] / 1000000
local now = tonumber(ARGV[2]) or server_now
local silence = tonumber(ARGV[1])
local suffix = ':' .. ARGV[4]
local uptime = tonumber(string.match(redis.call('INFO', 'server'), 'uptime_in_seconds:(%d+)'))
local dead = {}
if server_now - uptime <= now - silence then
    local silent = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - silence), 'WITHSCORES')
    for i = 1, #silent, 2 do
        local elsewhere = ARGV[4] == '' or string.sub(silent[i], -#suffix) ~= suffix
        if #dead < 2 * tonumber(ARGV[3]) and elsewhere then
            redis.call('ZREM', KEYS[1], silent[i])
            table.insert(dead, silent[i])
            table.insert(dead, silent[i + 1])
        end
    end
end
local here = {}
if ARGV[4] ~= '' then
    for _, name in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
        if string.sub(name, -#suffix) == suffix then table.insert(here, name) end
    end
end
return {dead, here}
"""


@dataclass(frozen=True)
class Identity:
    pid: int
    holder: str


_identity: Identity | None = None
_beating: dict[int, threading.Event] = {}
_lock = threading.Lock()


def holder() -> str:
    """This process's holder name, `host:pid:boot:space` (see the module's docstring); anew after a fork."""
    global _identity
    pid = os.getpid()
    if _identity is None or _identity.pid != pid:
        boot = _started(pid) or uuid.uuid4().hex[:12]
        _identity = Identity(pid, f"{socket.gethostname()[:40]}:{pid}:{boot}:{pid_space()}")
    return _identity.holder


@functools.cache
def pid_space() -> str:
    """Which pids this process sees: the kernel's boot id and its pid namespace, hashed; '' without /proc."""
    try:
        boot_id = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return ""
    return hashlib.sha256(f"{boot_id}:{namespace}".encode()).hexdigest()[:12]


def _started(pid: int) -> str | None:
    """When the process `pid` started (clock ticks since boot, /proc/<pid>/stat); None if none runs under it.

    A zombie (killed, not yet waited for by its parent) runs nothing: None.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # After the command name in parentheses (which may hold spaces): field 3, the state, ... field 22, the start.
    fields = stat.rpartition(")")[2].split()
    return None if fields[0] in ("Z", "X") else fields[19]


def _gone(name: str) -> bool:
    """Whether the holder `name`, of this pid space, is no longer running: its pid is free, a zombie's or another's."""
    _, pid, boot, _ = name.rsplit(":", 3)
    return _started(int(pid)) != boot


def ended(owner: str) -> bool:
    """Whether the process holding the lease `owner` (runner.worker_name) has provably ended: it is of this pid
    space and /proc says so. False when that cannot be told from here (another host, no holder name)."""
    name = owner.rpartition("/")[0]
    return name.count(":") >= 3 and name.rsplit(":", 1)[1] == pid_space() != "" and _gone(name)


def owner_prefix(name: str) -> str:
    """What the lease owners of the holder `name` start with (runner.worker_name)."""
    return f"{name}/"


def beat_s() -> float:
    return settings.ENGINE_WORKER_SILENCE_S / BEATS_PER_SILENCE


@functools.lru_cache(maxsize=4)
def _client_for(url: str) -> redis.Redis:
    """One client per URL and process (redis-py's pool starts afresh after a fork); short timeouts: a beat is small."""
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def _client() -> redis.Redis:
    return _client_for(settings.REDIS_URL)


def beat(name: str, now: float | None = None) -> float:
    """Record that the holder `name` is alive at `now` (Redis's clock by default); returns that time."""
    return float(_client().eval(_BEAT, 1, KEY, name, "" if now is None else repr(now)))


def forget(name: str) -> None:
    """The holder `name` stops on purpose: it holds no lease, and its silence should not be judged."""
    _client().zrem(KEY, name)


def dead_holders(now: float | None = None) -> list[tuple[str, float]]:
    """Take the dead holders (see the module's docstring) out of the set, with their last beats.

    Taken atomically (the script's ZREM, or a ZREM that removed the name), so two processes
    that look at once never both release one holder.
    """
    space = pid_space()
    silence = repr(float(settings.ENGINE_WORKER_SILENCE_S))
    at = "" if now is None else repr(now)
    silent, here = _client().eval(_JUDGE, 1, KEY, silence, at, JUDGED_AT_ONCE, space)
    dead = [(silent[i].decode(), float(silent[i + 1])) for i in range(0, len(silent), 2)]
    for name in (n.decode() for n in here):
        if _gone(name):
            last = _client().zscore(KEY, name)
            if last is not None and _client().zrem(KEY, name):
                dead.append((name, last))
    return dead


def release(name: str) -> int:
    """Crash every node the dead holder `name` still runs, to be claimed again at once; how many."""
    held = NodeRun.objects.filter(status=NodeStatus.RUNNING, lease_owner__startswith=owner_prefix(name))
    return sum(runs.crash(node_run, runs.CrashReason.WORKER_DIED) for node_run in held)


def release_dead(now: float | None = None) -> int:
    """Release the leases of every holder found dead, and send again what it may have held; how many nodes crashed.

    A holder whose release failed (the database refused it) goes back into the set with its
    last beat, to be judged again at the next look (a database restart must not cost its
    nodes a lease). After a death, the ready nodes whose messages a worker took and did not
    acknowledge are sent again (engine.held_messages): a killed worker's would otherwise wait
    for the reaper's redispatch.
    """
    if not settings.REDIS_URL:
        return 0
    crashed = 0
    dead = dead_holders(now)
    for name, last in dead:
        try:
            released = release(name)
        except BaseException:
            _client().zadd(KEY, {name: last}, nx=True)
            raise
        log.warning("worker process %s is dead: %d of its nodes are claimed again", name, released)
        crashed += released
    if dead:
        held_messages.resend_held()
    return crashed


def _beat_and_judge(name: str, stop: threading.Event) -> None:
    """A holder's beat thread: beat, then release whoever died; an outage is logged once per spell."""
    failing = False
    while True:
        try:
            beat(name)
            release_dead()
        except Exception as error:  # noqa: BLE001  (the thread must outlive any outage; logged once per spell)
            if not failing:
                log.warning("could not beat, or release a dead worker's nodes, for now: %r", error)
            failing = True
        else:
            failing = False
        finally:
            connections.close_all()  # this thread's, if a release opened one: releases are rare
        if stop.wait(beat_s()):
            return


def start_beating() -> None:
    """Make this process a beating holder (once per process); nothing without Redis."""
    if not settings.REDIS_URL:
        return
    name, pid = holder(), os.getpid()
    with _lock:
        if pid in _beating:
            return
        stop = _beating[pid] = threading.Event()
    threading.Thread(target=_beat_and_judge, args=(name, stop), name="lease-holder-beat", daemon=True).start()


def stop_beating() -> None:
    """Stop this process's beats and leave the set, as a worker stopping on purpose does."""
    with _lock:
        stop = _beating.pop(os.getpid(), None)
    if stop is None:
        return
    stop.set()
    try:
        forget(holder())
    except redis.RedisError as error:
        log.warning("could not remove this worker process from the lease holders: %s", error)


@worker_init.connect
@worker_process_init.connect
def _on_start(**_: Any) -> None:
    """Every worker process beats: a prefork pool process runs nodes; the main process does with other pools."""
    start_beating()


@worker_shutdown.connect
@worker_process_shutdown.connect
def _on_stop(**_: Any) -> None:
    stop_beating()
