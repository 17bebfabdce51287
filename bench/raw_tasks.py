"""The baseline: a plain Celery app whose no-op tasks each write one PostgreSQL row.

It is what a team would write without the engine, so it shares the engine worker's broker,
pool, concurrency, acks_late and prefetch settings, and nothing else: no Django, no state
machine, no events. A worker is started for it with `celery -A bench.raw_tasks worker`.
"""

import os
import threading

import psycopg
from celery import Celery

QUEUE = "bench_raw"
TABLE = "bench_raw_step"
BROKER_URL = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/12")
RESULT_URL = os.environ.get("BENCH_RESULT_URL", "redis://127.0.0.1:6379/13")
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/switchyard_bench")

# fixups=[]: without it Celery would install its Django fixup whenever DJANGO_SETTINGS_MODULE
# is set, and the baseline would inherit Django's connection handling. set_as_current=False:
# the benchmark process also sends engine tasks, whose shared_task proxies follow the current app.
app = Celery("bench_raw", broker=BROKER_URL, backend=RESULT_URL, fixups=[], set_as_current=False)
app.conf.update(
    task_default_queue=QUEUE,
    task_acks_late=True,
    worker_prefetch_multiplier=1,
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
    result_expires=600,
)

_local = threading.local()


def create_table(conn: psycopg.Connection) -> None:
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {TABLE} "
        "(id bigserial PRIMARY KEY, tag text NOT NULL, step integer NOT NULL, created_at timestamptz DEFAULT now())"
    )
    conn.execute(f"CREATE INDEX IF NOT EXISTS {TABLE}_tag ON {TABLE} (tag)")


def _write(tag: str, step: int, fresh: bool) -> None:
    """One autocommitted INSERT, on the thread's own connection unless `fresh` asks for a new one.

    `fresh` is a diagnostic: it mimics the engine worker, where Celery's Django fixup closes
    the connection around every task (CONN_MAX_AGE=0), so each task connects anew.
    """
    if fresh:
        with psycopg.connect(DATABASE_URL, autocommit=True, application_name="bench_raw") as conn:
            conn.execute(f"INSERT INTO {TABLE} (tag, step) VALUES (%s, %s)", (tag, step))  # noqa: S608
        return
    conn = getattr(_local, "conn", None)
    if conn is None or conn.closed:
        conn = _local.conn = psycopg.connect(DATABASE_URL, autocommit=True, application_name="bench_raw")
    conn.execute(f"INSERT INTO {TABLE} (tag, step) VALUES (%s, %s)", (tag, step))  # noqa: S608


@app.task(ignore_result=True)
def step(tag: str, index: int, fresh: bool = False) -> None:
    """A chain link: chains pass the next link in the message, so no result backend is needed."""
    _write(tag, index, fresh)


@app.task
def member(tag: str, index: int) -> int:
    """A chord header task: its result is stored, because the chord counts results to fire the callback."""
    _write(tag, index, False)
    return index


@app.task(ignore_result=True)
def join(results: list[int], tag: str) -> None:
    """The chord callback: row `-1` marks the chord as done."""
    if len(results) != len(set(results)):
        raise ValueError("the chord delivered a result twice")
    _write(tag, -1, False)
