"""What one HTTP request costs the web process under ASGI, in process: CPU per request through the production ASGI app.

    .venv/bin/python bench/asgi_request_cost.py [--requests 300] [--rounds 3]

No server and no load generator: requests are handed one after the other to `config.asgi.application`
on an event loop in this process, as uvicorn hands them (no socket, no HTTP parsing), with the web
process's settings (a pool of connections, the Celery publish to Redis; no worker runs). Three
requests: bench/api_baseline.py's endpoint (a Bearer token checked, one row inserted), the API
trigger (`POST /api/v1/workflows/<id>/runs`) and a signed-in page (`GET /accounts/settings/`
with a session cookie). CPU time (time.process_time, every thread of the process: the middleware's
and the views' threads too) moves little with the machine's load, unlike wall time. Unlike
bench/trigger_profile.py (Django's test client, no ASGI), it counts what Django's ASGI handler adds:
each hand-off of a middleware step or a view to a thread and back, and a new thread per request.
Uses database bench_asgi_cost and Redis db 10, both emptied first, unless BENCH_ASGI_DATABASE and
BENCH_ASGI_REDIS name others (to measure two trees side by side).
"""

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script, the repo root is not on the path

from bench.database import SERVER, own_services
from tests import asgi_calls

Request = tuple[str, str, dict[str, str], bytes]


def prepare() -> None:
    own_services(
        f"{SERVER}/{os.environ.get('BENCH_ASGI_DATABASE', 'bench_asgi_cost')}",
        os.environ.get("BENCH_ASGI_REDIS", "redis://127.0.0.1:6379/10"),
        tempfile.mkdtemp(prefix="asgi-request-cost-"),
        API_TOKEN_TRIGGERS_PER_MINUTE="100000",  # noqa: S106  (a limit, not a secret)
        DB_POOL_SIZE="8",  # as docs/deploy.md runs the web process
        DJANGO_SETTINGS_MODULE="bench.api_settings",  # the production settings with the baseline's URL
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)


def requests() -> dict[str, Request]:
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.test import Client

    from bench.api_baseline import create_table
    from bench.api_stack import make_site

    create_table()
    site = make_site()
    bearer = {"authorization": f"Bearer {site.token}", "content-type": "application/json"}
    browser = Client()
    browser.force_login(User.objects.get(username="bench"))
    cookie = {"cookie": f"{settings.SESSION_COOKIE_NAME}={browser.cookies[settings.SESSION_COOKIE_NAME].value}"}
    body = json.dumps({"input": {"n": 1}}).encode()
    return {
        "baseline": ("POST", "/bench/baseline", bearer, body),
        "trigger": ("POST", f"/api/v1/workflows/{site.workflow_id}/runs", bearer, body),
        "page": ("GET", "/accounts/settings/", cookie, b""),
    }


async def call(app: Callable[..., Any], request: Request) -> int:
    """One request through the ASGI app, as a server would hand it over; its status code."""
    method, path, headers, body = request
    sent = await asgi_calls.request(app, method, path, headers, body)
    return int(sent[0]["status"])


async def measure(app: Callable[..., Any], request: Request, count: int) -> tuple[float, float]:
    """CPU and wall milliseconds per request over `count` requests, after some to warm up."""
    for _ in range(20):
        status = await call(app, request)
        if status >= 300:
            raise SystemExit(f"{request[0]} {request[1]} answered {status}")
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(count):
        await call(app, request)
    return (time.process_time() - cpu) * 1000 / count, (time.perf_counter() - wall) * 1000 / count


async def main_async(chosen: dict[str, Request], count: int, rounds: int) -> None:
    from config.asgi import application

    figures: dict[str, list[tuple[float, float]]] = {name: [] for name in chosen}
    for _ in range(rounds):
        for name, request in chosen.items():
            figures[name].append(await measure(application, request, count))
    print(f"CPU and wall ms per request, {rounds} rounds of {count} (median; each round)")
    for name, taken in figures.items():
        cpu = [round(c, 2) for c, _ in taken]
        wall = [round(w, 2) for _, w in taken]
        print(f"  {name:9} CPU {statistics.median(cpu):6.2f} {cpu}   wall {statistics.median(wall):6.2f} {wall}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.environ.pop("DJANGO_SETTINGS_MODULE", None)
    prepare()
    chosen = requests()
    print(f"load average: {os.getloadavg()[0]:.1f}")
    asyncio.run(main_async(chosen, args.requests, args.rounds))
    print(f"load average: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
