"""`make run` as a new user runs it: no DATABASE_URL, no REDIS_URL, one process, then Ctrl-C."""

import csv
import io
import json
import os
import re
import signal
import subprocess
import time

import httpx
from websockets.sync.client import ClientConnection, connect

from tests.conftest import ROOT
from tests.eventually import eventually
from tests.private_services import free_port


def read_until(process: subprocess.Popen[str], pattern: str, seen: list[str], timeout: float) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise AssertionError("make run exited early:\n" + "".join(seen))
        seen.append(line)
        found = re.search(pattern, line)
        if found:
            return found
    raise AssertionError(f"no line matched {pattern!r} within {timeout} s:\n" + "".join(seen))


def answered(browser: httpx.Client, path: str) -> httpx.Response | None:
    """The page, or None while the server does not accept connections yet."""
    try:
        return browser.get(path)
    except httpx.ConnectError:
        return None


def must_find(pattern: str, text: str) -> str:
    found = re.search(pattern, text)
    assert found, f"{pattern!r} not found in the page"
    return found.group(1)


def run_demo_workflow(browser: httpx.Client, token: str) -> None:
    """The in-process worker runs the engine on SQLite: a routine ticket is answered, a refund
    waits for review and is sent as edited; the workspace socket hears of it at once (the
    embedded channel-layer trap)."""
    base = str(browser.base_url).rstrip("/")
    with connect(
        base.replace("http://", "ws://") + "/ws/workspace/",
        additional_headers={"Cookie": "; ".join(f"{k}={v}" for k, v in browser.cookies.items()), "Origin": base},
    ) as socket:
        assert json.loads(socket.recv(timeout=5))["type"] == "subscribed"
        follow_demo_runs(browser, token, socket)


def follow_demo_runs(browser: httpx.Client, token: str, socket: ClientConnection) -> None:
    workflows = {w["name"]: w for w in browser.get("/api/v1/workflows").json()}
    url = f"/api/v1/workflows/{workflows['Ticket routing']['id']}/runs"
    tickets = [
        {"subject": "Login", "body": "I cannot log in", "customer": "Ann"},
        {"subject": "Money", "body": "I want a REFUND", "priority": "normal"},
    ]
    replied, reviewed = [
        browser.post(url, json={"input": t}, headers={"X-CSRFToken": token}).json()["id"] for t in tickets
    ]
    # The workspace socket hears both runs move without the test asking the server anything
    # (each receive gives up after 5 s: a stuck test, not a measurement).
    heard: set[tuple[int, str]] = set()
    while (replied, "succeeded") not in heard or (reviewed, "waiting") not in heard:
        message = json.loads(socket.recv(timeout=5))
        if message.get("type") == "run.updated":
            heard.add((message["run"], message["status"]))
    run = browser.get(f"/api/v1/runs/{replied}").json()
    assert run["status"] == "succeeded"
    assert run["output"]["answer"].startswith("Hi Ann, thanks for writing about")
    # wait=true in one process: the call hears the run's end through the in-memory channel layer.
    waited = browser.post(
        url, json={"input": tickets[0], "wait": True, "timeout_s": 30}, headers={"X-CSRFToken": token}
    )
    assert (waited.status_code, waited.json()["status"]) == (200, "succeeded")

    # The refund waits for a person: decide it in the inbox's API, and the run sends the edit.
    pending = browser.get("/api/v1/approvals").json()["items"]
    assert [item["run_id"] for item in pending] == [reviewed]
    decided = browser.post(
        f"/api/v1/approvals/{pending[0]['id']}/decide",
        json={"decision": "edit_and_approve", "values": {"reply": "Refund on its way."}},
        headers={"X-CSRFToken": token},
    )
    assert decided.status_code == 200, decided.text
    run = eventually(
        lambda: found if (found := browser.get(f"/api/v1/runs/{reviewed}").json())["status"] == "succeeded" else None,
        timeout=10,
        message="the reviewed run did not finish",
    )
    assert run["output"] == {"answer": "Refund on its way."}


ENDED = {"succeeded", "failed", "cancelled"}


def answer_agent_demo(browser: httpx.Client, token: str) -> None:
    """The "Support agent" template offline on SQLite: it searches, looks the order up in the demo
    shop, asks a reviewer about the refund, then answers with the built-in tool-use mode."""
    workflows = {w["name"]: w for w in browser.get("/api/v1/workflows").json()}
    ticket = {
        "subject": "Broken lamp",
        "body": "Order: 1001\nRefund amount: 20\nMy lamp arrived with a cracked shade. Can I get a partial refund?",
        "customer": "Ann Lee",
    }
    url = f"/api/v1/workflows/{workflows['Support agent']['id']}/runs"
    started = browser.post(url, json={"input": ticket}, headers={"X-CSRFToken": token}).json()["id"]
    refund = eventually(
        lambda: [item for item in browser.get("/api/v1/approvals").json()["items"] if item["run_id"] == started],
        timeout=30,
        message="the refund was not proposed to a reviewer",
    )[0]
    assert refund["title"] == "Tool call: refund_order"
    decided = browser.post(
        f"/api/v1/approvals/{refund['id']}/decide", json={"decision": "approve"}, headers={"X-CSRFToken": token}
    )
    assert decided.status_code == 200, decided.text
    run = eventually(
        lambda: found if (found := browser.get(f"/api/v1/runs/{started}").json())["status"] in ENDED else None,
        timeout=30,
        message="the agent's run did not end after the refund was approved",
    )
    assert run["status"] == "succeeded", run["error"]
    assert run["output"]["answer"].startswith("[Built-in offline agent: deterministic tool use, no model]")
    agent = next(node for node in run["nodes"] if node["node_id"] == "agent")
    called = [step["tool"] for step in agent["agent_steps"] if step["kind"] == "tool"]
    assert called == ["search_help_centre", "lookup_order", "refund_order"]


def read_eval_demo(browser: httpx.Client) -> None:
    """The demo's two eval runs of Support triage are scored on SQLite, and their comparison and the
    Quality tab show their figures (the comparison's SQL once failed on SQLite alone)."""
    workflows = {w["name"]: w for w in browser.get("/api/v1/workflows").json()}
    triage = workflows["Support triage"]["id"]

    def scored() -> list[dict]:
        runs = browser.get("/api/v1/eval-runs").json()
        return runs if len(runs) == 2 and all(run["progress"]["scored"] for run in runs) else []

    candidate, base = eventually(scored, timeout=60, message="the demo's eval runs were not scored")
    assert (base["version"], candidate["version"]) == (1, 2)
    page = browser.get(f"/workflows/{triage}/evals/compare/?base={base['id']}&candidate={candidate['id']}")
    assert page.status_code == 200
    assert re.search(r"6\s+regressions", re.sub(r"<[^>]+>", " ", page.text)), "v2's dropped sources do not show"
    compared = browser.get(f"/api/v1/eval-runs/{base['id']}/compare/{candidate['id']}?only=regressions").json()
    assert (compared["regressions"], len(compared["rows"])) == (6, 6)

    def ended_per_version() -> list[tuple[int, int]]:
        rows = browser.get(f"/api/v1/workflows/{triage}/quality").json()["by_version"]
        found = [(row["version"], row["ended"]) for row in rows]
        # Per version: the batch's six tickets, and the five the demo's reviewer decided while seeding.
        return found if found == [(2, 11), (1, 11)] else []

    eventually(ended_per_version, timeout=60, message="the demo's batches of v1 and v2 did not end")
    read_review_figures(browser, triage)


def read_review_figures(browser: httpx.Client, triage: int) -> None:
    """The Quality tab's review columns of both versions, from the runs the demo's reviewer decided, whose
    four edits wait as eval-set proposals."""
    by_version = browser.get(f"/api/v1/workflows/{triage}/quality").json()["by_version"]
    reviewed = [
        (row["version"], row["reviewed"], row["approved_as_is"], row["edited"], row["rejected"]) for row in by_version
    ]
    assert reviewed == [(2, 5, 2, 2, 1), (1, 5, 1, 2, 1)]
    assert all(float(row["mean_edit_words"]) > 0 for row in by_version)
    assert all(float(row["auto_resolved_percent"]) > 0 for row in by_version)
    assert all(float(row["escalated_percent"]) > 0 for row in by_version)
    page = browser.get(f"/workflows/{triage}/quality/")
    assert page.status_code == 200
    assert 'id="table-by-version"' in page.text
    export = browser.get(f"/workflows/{triage}/quality/by-version.csv")
    table = list(csv.reader(io.StringIO(export.text)))
    rows = [dict(zip(table[0], row, strict=True)) for row in table[1:]]
    assert [(row["Version"], row["Reviewed"], row["Edited"]) for row in rows] == [("2", "5", "2"), ("1", "5", "2")]
    assert all(float(row["Mean edit size (words)"]) > 0 for row in rows)
    proposals = browser.get(f"/api/v1/eval-proposals?workflow_id={triage}").json()
    assert [(p["reviewer_label"], sorted(p["expected"])) for p in proposals] == [("reviewer", ["reply"])] * 4


def test_make_run_serves_the_app_in_one_process_and_stops_on_ctrl_c(tmp_path):
    # DJANGO_SETTINGS_MODULE too: pytest's own (tests.settings) is not what a user runs.
    unset = {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DJANGO_SETTINGS_MODULE"}
    env = {k: v for k, v in os.environ.items() if k not in unset}
    port = free_port()
    env.update(SWITCHYARD_DATA_DIR=str(tmp_path), PORT=str(port))
    process = subprocess.Popen(
        ["make", "--no-print-directory", "run"],
        cwd=ROOT,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    seen: list[str] = []
    try:
        password = read_until(process, r"admin\s+password: (\S+)", seen, 300).group(1)
        read_until(process, r"Worker ready", seen, 60)
        read_until(process, r"Scheduler ready", seen, 60)
        url = read_until(process, r"running at (http://\S+)", seen, 60).group(1)
        assert url == f"http://127.0.0.1:{port}/"
        assert (tmp_path / "db.sqlite3").exists()

        with httpx.Client(base_url=url, follow_redirects=True, timeout=10) as browser:
            login_page = eventually(lambda: answered(browser, "/accounts/login/"), timeout=10)
            token = must_find(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page.text)
            home = browser.post(
                "/accounts/login/", data={"csrfmiddlewaretoken": token, "username": "admin", "password": password}
            )
            assert home.status_code == 200
            assert "Demo workspace" in home.text
            for section in ["Workflows", "Runs", "Inbox", "Knowledge", "Costs", "Settings"]:
                assert f">{section}</a>" in home.text
            script = must_find(r'<script type="module"[^>]* src="([^"]+)"', home.text)
            assert browser.get(script).status_code == 200
            assert browser.get("/healthz").json() == {"status": "ok"}
            # The in-process worker's heartbeat counts.
            ready = {"database": "ok", "redis": "not used (embedded mode)", "workers": "ok: 1 live"}
            assert browser.get("/readyz").json() == ready
            csrf = must_find(r'name="csrf-token" content="([^"]+)"', home.text)
            run_demo_workflow(browser, csrf)
            read_eval_demo(browser)
            answer_agent_demo(browser, csrf)
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(30)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
    rest = process.stdout.read() if process.stdout else ""
    assert "Stopped: web server, worker and scheduler." in rest, "".join(seen) + rest
