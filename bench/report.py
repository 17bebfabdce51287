"""The benchmark's printed figures: its environment, the table and the verdict per target."""

import os
import platform
import shlex
import statistics
import subprocess
import sys
from pathlib import Path

import celery
import django
import psycopg

TARGET = 2.0


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10, method="inclusive")[8] if len(values) > 1 else values[0]


def verdict(samples: dict[str, list[float]], reps: int, warmup: int, chain: int, width: int) -> list[str]:
    med = {name: statistics.median(values) for name, values in samples.items()}
    top = {name: p90(values) for name, values in samples.items()}

    def row(label: str, name: str, scale: float, unit: str) -> str:
        return f"  {label:<48}{med[name] * scale:>9.1f} {unit:<3}{top[name] * scale:>9.1f} {unit}"

    node_ratio = med["engine_chain"] / med["raw_chain"]
    fan_ratio = med["engine_fan_out"] / med["raw_chord"]
    return [
        f"Results: median and p90 of {reps} repetitions after {warmup} warm-up",
        f"  {'':<48}{'median':>13}{'p90':>12}",
        row(f"engine chain, per node ({chain} nodes)", "engine_chain", 1000, "ms"),
        row(f"raw Celery chain, per step ({chain} tasks)", "raw_chain", 1000, "ms"),
        row("  reference: raw chain, new PG connection per task", "raw_chain_fresh", 1000, "ms"),
        row(f"engine fan-out {width} + join ({width + 2} nodes), wall", "engine_fan_out", 1000, "ms"),
        row(f"raw Celery chord {width} + callback, wall", "raw_chord", 1000, "ms"),
        "",
        f"  {'target (ratio of medians)':<48}{'ratio':>9}{'limit':>9}  verdict",
        f"  {'engine per node / raw chain per step':<48}{node_ratio:>9.2f}{TARGET:>9.2f}  "
        + ("PASS" if node_ratio <= TARGET else "MISS"),
        f"  {'engine fan-out / raw chord':<48}{fan_ratio:>9.2f}{TARGET:>9.2f}  "
        + ("PASS" if fan_ratio <= TARGET else "MISS"),
    ]


def tracing_cost(off: dict[str, list[float]], on: dict[str, list[float]], exports: int) -> list[str]:
    """The engine with tracing off and on, each beside the raw cases measured in its own phase."""
    med_off = {name: statistics.median(values) for name, values in off.items()}
    med_on = {name: statistics.median(values) for name, values in on.items()}
    node_off = med_off["engine_chain"] / med_off["raw_chain"]
    node_on = med_on["engine_chain"] / med_on["raw_chain"]
    fan_off = med_off["engine_fan_out"] / med_off["raw_chord"]
    fan_on = med_on["engine_fan_out"] / med_on["raw_chord"]
    # Absolute times drift between the phases with the machine's load; the engine-to-raw ratio of
    # each phase does not, so the cost is the ratio's growth in raw steps of the traced phase.
    per_node = (node_on - node_off) * med_on["raw_chain"] * 1000

    def row(label: str, a: float, b: float) -> str:
        return f"  {label:<48}{a:>9.2f}{b:>9.2f}"

    return [
        f"Tracing, medians ({exports} OTLP exports received)",
        f"  {'':<48}{'off':>9}{'on':>9}",
        row("engine chain, per node (ms)", med_off["engine_chain"] * 1000, med_on["engine_chain"] * 1000),
        row("raw chain, per step (ms), same phase", med_off["raw_chain"] * 1000, med_on["raw_chain"] * 1000),
        row("engine per node / raw chain per step", node_off, node_on),
        row("engine fan-out / raw chord", fan_off, fan_on),
        f"  tracing on: about {per_node:.2f} ms more per node of the chain ({node_on / node_off:.2f}x the ratio off,"
        " in raw steps of its own phase)",
    ]


def revision() -> str:
    """The commit measured; the engine changes often, so figures mean little without it."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "engine"], cwd=root, capture_output=True, text=True)
    except OSError:
        return "unknown (no git)"
    return head.stdout.strip() + (" with uncommitted changes in engine/" if dirty.stdout.strip() else "")


def environment() -> list[str]:
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    return [
        f"command: {shlex.join([Path(sys.executable).as_posix(), *sys.argv])}  (cwd {Path.cwd()})",
        f"commit: {revision()}",
        f"cpus: {os.cpu_count()}  load average: {load}  platform: {platform.platform()}",
        f"python {platform.python_version()}  celery {celery.__version__}  django {django.get_version()}  "
        f"psycopg {psycopg.__version__}",
        "workers: --pool=threads --concurrency=8 --without-mingle --without-gossip, one for the engine, one for raw",
    ]
