"""The chaos benchmark's workspace, workflow and runs: set up in this process through Django, started through the API.

The workflow: trigger → two model calls in parallel → POST → POST → reply with a callback,
every request to the fakes on 127.0.0.1. Each run's input carries its ticket ("chaos-17"),
which the prompts and bodies repeat, so what the fakes saw can be matched to runs.
"""

import json
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

MODEL = "gpt-chaos"
RETRY = {"max_attempts": 3, "initial_delay_s": 1.0}
GIVE_UP_AFTER_S = 120.0


def node(node_id: str, kind: str, x: int, params: dict[str, Any]) -> dict[str, Any]:
    return {"id": node_id, "type": kind, "position": {"x": x, "y": 0}, "params": params, "retry": RETRY}


def edge(source: str, target: str) -> dict[str, Any]:
    return {
        "id": f"{source}-{target}",
        "source": source,
        "source_handle": "out",
        "target": target,
        "target_handle": "in",
    }


def graph(receiver_url: str) -> dict[str, Any]:
    def generate(name: str) -> dict[str, Any]:
        return {
            "provider": "fake",
            "model": MODEL,
            "max_tokens": 50,
            "prompt": f"node {name} ticket {{{{ input.ticket }}}}",
        }

    def post(name: str) -> dict[str, Any]:
        body = {"ticket": "{{ input.ticket }}", "step": name}
        return {"method": "POST", "url": f"{receiver_url}/effects/{name}", "body": body, "timeout_s": 30}

    nodes = [
        node("start", "trigger", 0, {}),
        node("a", "generate", 200, generate("a")),
        node("b", "generate", 200, generate("b")),
        node("post_1", "http_request", 400, post("post_1")),
        node("post_2", "http_request", 600, post("post_2")),
        node("done", "reply", 800, {"answer": "{{ nodes.a.text }}", "callback_url": f"{receiver_url}/effects/reply"}),
    ]
    pairs = [("start", "a"), ("start", "b"), ("a", "post_1"), ("b", "post_1"), ("post_1", "post_2"), ("post_2", "done")]
    return {"schema_version": 1, "nodes": nodes, "edges": [edge(s, t) for s, t in pairs]}


@dataclass(frozen=True)
class Setup:
    workspace_id: int
    workflow_id: int
    token: str


def set_up(model_url: str, receiver_url: str) -> Setup:
    """Migrate, then an owner, a workspace that may reach 127.0.0.1, the fake provider at a price, a budget,
    the workflow published, and an API token that may start and read runs."""
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.utils import timezone

    from accounts import tokens
    from accounts.models import Membership, Role, Scope, Workspace
    from builder.versions import publish_version
    from builder.workflows import create_workflow
    from engine import provider_configs
    from engine.models import Budget, BudgetScope, ModelPrice

    call_command("migrate", verbosity=0)
    owner = User.objects.create_user("chaos-owner", password=None)
    workspace = Workspace.objects.create(name="Chaos", slug="chaos", http_allowlist=["127.0.0.1"])
    Membership.objects.create(workspace=workspace, user=owner, role=Role.OWNER)
    provider_configs.save(workspace.pk, {"name": "fake", "base_url": model_url, "chat_models": [MODEL]}, "sk-chaos")
    ModelPrice.objects.create(
        provider_kind="openai_compatible",
        model=MODEL,
        input_per_million=Decimal("2.50"),
        output_per_million=Decimal("10"),
        effective_from=timezone.now() - timedelta(days=1),
    )
    Budget.objects.create(
        workspace=workspace, name="Month", scope=BudgetScope.WORKSPACE_MONTH, limit=Decimal(1000), created_by=owner
    )
    workflow = create_workflow(workspace, "Chaos", owner, draft=graph(receiver_url))
    publish_version(workflow, "chaos benchmark", owner)
    issued = tokens.issue(workspace, owner, "chaos", [Scope.RUNS_TRIGGER, Scope.RUNS_READ], None)
    return Setup(workspace.pk, workflow.pk, issued.secret)


@dataclass
class Trigger:
    ticket: str
    at: float  # wall clock (time.time()) of the first attempt: the server's finished_at is on the same clock
    run_id: int | None = None
    attempts: int = 0
    accepted_at: float = 0.0  # wall clock of the answer that started the run
    gave_up: str = ""


@dataclass
class Triggering:
    """Starts runs through the API at a fixed rate, retrying a refusal (503, 429, no answer) with the same key.

    Counts every answer's status, as an operator's client would see them.
    """

    api_url: str
    setup: Setup
    receiver_url: str
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    no_answer: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run_all(self, phase: str, runs: int, rate: float, threads: int = 8) -> list[Trigger]:
        """Start `runs` runs, the i-th at i / rate seconds from now; returns once every trigger answered or gave up."""
        began = time.monotonic()
        triggers = [Trigger(f"{phase}-{i}", 0.0) for i in range(runs)]
        pending = iter(enumerate(triggers))
        take = threading.Lock()

        def work() -> None:
            while True:
                with take:
                    item = next(pending, None)
                if item is None:
                    return
                i, trigger = item
                time.sleep(max(0.0, began + i / rate - time.monotonic()))
                self.start(trigger)

        pool = [threading.Thread(target=work, daemon=True) for _ in range(threads)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
        return triggers

    def start(self, trigger: Trigger) -> None:
        trigger.at = time.time()
        body = json.dumps({"input": {"ticket": trigger.ticket}, "callback_url": f"{self.receiver_url}/ended"}).encode()
        while True:
            trigger.attempts += 1
            status, payload, retry_after = self._post(body, trigger.ticket)
            if status in (200, 202):
                trigger.run_id = int(payload["id"])
                trigger.accepted_at = time.time()
                return
            if time.time() - trigger.at > GIVE_UP_AFTER_S or status not in (0, 429, 502, 503, 504):
                trigger.gave_up = f"{status}: {str(payload)[:200]}"
                return
            time.sleep(min(max(retry_after, 0.5), 5.0))

    def _post(self, body: bytes, key: str) -> tuple[int, Any, float]:
        request = urllib.request.Request(  # noqa: S310  (a URL of our own on 127.0.0.1)
            f"{self.api_url}/api/v1/workflows/{self.setup.workflow_id}/runs",
            data=body,
            method="POST",
            headers={
                "Authorization": f"Bearer {self.setup.token}",
                "Content-Type": "application/json",
                "Idempotency-Key": key,
            },
        )
        content_type, retry_after = "", 0.0
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
                status, raw = answer.status, answer.read()
        except urllib.error.HTTPError as error:
            status, raw, content_type = error.code, error.read(), error.headers.get("Content-Type", "")
            retry_after = float(error.headers.get("Retry-After") or 1)
        except OSError:
            with self.lock:
                self.no_answer += 1
            return 0, None, 1.0
        with self.lock:
            self.statuses[status] += 1
            if status >= 500:
                self.server_errors.append(f"{status} {content_type}: {raw[:300]!r}")
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = raw[:200]
        return status, payload, retry_after
