"""The production web server: uvicorn processes that each listen on a socket of their own (SO_REUSEPORT).

    python -m config.serve --host 0.0.0.0 --port 8000 --workers 2

`uvicorn --workers N` has every process accept from one shared socket. The process that wakes
first takes every connection waiting, so a burst of new connections lands on one process:
under 16 keep-alive connections opened together, splits of 15:1 and 16:0 were common, and the
other process sat idle while the busy one queued requests (90 triggers/s paced, bench/paced_load.py:
p99 1.3 s at 16:0, 0.4 s at 11:5; docs/benchmarks.md). Here each process binds its own socket
to the same port with SO_REUSEPORT, and the kernel spreads new connections over them by a hash
of their addresses. The server in each process is uvicorn's own (`uvicorn.Server` and
`uvicorn.Config`, which reads FORWARDED_ALLOW_IPS from the environment as uvicorn's command line
does); this module only binds the sockets and keeps the processes running, as `uvicorn --workers`
does.
"""

import argparse
import logging
import multiprocessing
import signal
import socket
import sys
import threading
from multiprocessing.process import BaseProcess
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE

APPLICATION = "config.asgi:application"
BACKLOG = 2048  # uvicorn's default

log = logging.getLogger("uvicorn.error")


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket listening on host:port that other processes may bind as well, each then taking its share."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(BACKLOG)
    return sock


def serve(options: dict[str, Any]) -> None:
    """One server process: uvicorn on a socket of its own."""
    config = uvicorn.Config(APPLICATION, **options)
    try:
        sock = listening_socket(config.host, config.port)
    except OSError as error:
        log.error("Cannot listen on %s:%s: %s", config.host, config.port, error)
        sys.exit(STARTUP_FAILURE)
    uvicorn.Server(config).run(sockets=[sock])


class Supervisor:
    """Starts `workers` server processes, starts a new one when one dies, stops them all on SIGTERM or SIGINT.

    A process that could not start (the port taken, the application failing to load) stops
    everything instead, since each new one would fail the same way.
    """

    def __init__(self, workers: int, options: dict[str, Any]) -> None:
        self.workers = workers
        self.options = options
        self.context = multiprocessing.get_context("spawn")
        self.stopping = threading.Event()

    def run(self) -> int:
        for stop in (signal.SIGTERM, signal.SIGINT):
            signal.signal(stop, lambda *_: self.stopping.set())
        processes = [self._start() for _ in range(self.workers)]
        failed = False
        while not self.stopping.wait(0.5):
            for index, process in enumerate(processes):
                if process.is_alive():
                    continue
                if process.exitcode == STARTUP_FAILURE:
                    log.error("Server process %s could not start; stopping", process.pid)
                    failed = True
                    self.stopping.set()
                    break
                log.warning("Server process %s ended (exit code %s); starting another", process.pid, process.exitcode)
                processes[index] = self._start()
        for process in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes the requests in flight, then exits
        for process in processes:
            process.join()
        return 1 if failed else 0

    def _start(self) -> BaseProcess:
        process = self.context.Process(target=serve, args=(self.options,), name="web")
        process.start()
        return process


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1, help="server processes (docs/deploy.md: one per core)")
    parser.add_argument(
        "--proxy-headers",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="take the client's address and scheme from X-Forwarded-* when sent by FORWARDED_ALLOW_IPS (uvicorn's)",
    )
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    parser.add_argument("--no-access-log", dest="access_log", action="store_false")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers: at least 1")
    options = {
        "host": args.host,
        "port": args.port,
        "proxy_headers": args.proxy_headers,
        "log_level": args.log_level,
        "access_log": args.access_log,
    }
    if args.workers == 1:
        serve(options)
        return 0
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s:     %(message)s")
    return Supervisor(args.workers, options).run()


if __name__ == "__main__":
    sys.exit(main())
