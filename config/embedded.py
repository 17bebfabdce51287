"""`make run`: the whole product in one process on the embedded default.

Migrates the SQLite database under the data directory, loads the demo workspace, then runs
the ASGI server (HTTP and websockets) in the main thread and a Celery worker and beat
scheduler in background threads on Celery's in-memory broker. Ctrl-C stops all three.
"""

import logging
import os
import sys
import threading
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

import uvicorn  # noqa: E402  (the settings must be loaded before Celery and Django imports below)
from celery.beat import EmbeddedService  # noqa: E402
from celery.signals import worker_ready  # noqa: E402
from celery.worker import WorkController  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

from config.celery import app as celery_app  # noqa: E402

STOP_TIMEOUT_S = 10


class EmbeddedWorker(WorkController):
    """A Celery worker that runs in a thread of this process and says when it consumes.

    It sends worker_ready as `celery worker` does, so that it records heartbeats for /readyz
    (config/worker_beats.py) like any worker."""

    def __init__(self, **kwargs: Any) -> None:
        self.consuming = threading.Event()
        super().__init__(**kwargs)

    def on_consumer_ready(self, consumer: Any) -> None:
        worker_ready.send(sender=consumer)
        self.consuming.set()


def start_worker() -> tuple[EmbeddedWorker, threading.Thread]:
    worker = EmbeddedWorker(
        app=celery_app,
        pool="threads",
        concurrency=4,
        hostname="embedded@localhost",
        without_heartbeat=True,
        without_mingle=True,
        without_gossip=True,
        loglevel=settings.LOG_LEVEL,
    )
    thread = threading.Thread(target=worker.start, name="celery-worker", daemon=True)
    thread.start()
    if not worker.consuming.wait(STOP_TIMEOUT_S):
        sys.exit("The in-process Celery worker did not start; see the log above.")
    return worker, thread


def quiet_ticks() -> None:
    """The reaper and the schedules tick every few seconds; at INFO each tick logs three lines
    to the terminal the user is reading, burying the app's own messages. LOG_LEVEL=DEBUG keeps them."""
    if settings.LOG_LEVEL != "DEBUG":
        for name in ("celery.beat", "celery.worker.strategy", "celery.app.trace"):
            logging.getLogger(name).setLevel(logging.WARNING)


def main() -> None:
    if not settings.EMBEDDED:
        sys.exit(
            "make run is the embedded mode: unset DATABASE_URL and REDIS_URL, "
            "or run web, worker and beat separately (docs/deploy.md)."
        )
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8000"))
    call_command("migrate", interactive=False, verbosity=0)
    call_command("seed_demo")
    quiet_ticks()
    worker, worker_thread = start_worker()
    print("Worker ready: in-process Celery worker consuming from the in-memory broker.", flush=True)
    beat = EmbeddedService(celery_app, thread=True, schedule_filename=settings.CELERY_BEAT_SCHEDULE_FILENAME)
    beat.start()  # type: ignore[union-attr]  # thread=True builds the threaded variant
    print("Scheduler ready: in-process Celery beat.", flush=True)
    server = uvicorn.Server(
        uvicorn.Config("config.asgi:application", host=host, port=port, lifespan="off", log_level="info")
    )
    print(f"Switchyard is running at http://{host}:{port}/  (data in {settings.DATA_DIR}; Ctrl-C stops it)", flush=True)
    try:
        server.run()
    except KeyboardInterrupt:
        pass  # uvicorn re-raises the Ctrl-C it handled gracefully; the shutdown below is the same
    finally:
        beat.stop()
        worker.stop(in_sighandler=False)
        worker_thread.join(STOP_TIMEOUT_S)
        print("Stopped: web server, worker and scheduler.", flush=True)


if __name__ == "__main__":
    main()
