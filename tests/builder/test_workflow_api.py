"""Workflows over the API: create, save with revision checks, validate, publish, versions, export, import."""

import pytest
from django.test import Client

from accounts import tokens
from builder.models import Workflow
from engine.models import Run
from tests.engine.graphs import TRIGGER, chain, node

GOOD = chain(TRIGGER, node("answer", "reply", answer="hi"))


@pytest.fixture
def client(owner, login_as):
    return login_as(owner)


def create(client, **body):
    return client.post_json("/api/v1/workflows", {"name": "Triage", **body})


def test_it_creates_and_reads_a_workflow_with_its_revision(client, owner):
    made = create(client, draft=GOOD)
    assert made.status_code == 201
    workflow = made.json()
    assert (workflow["draft_revision"], workflow["problems"], workflow["latest_version"]) == (1, [], None)
    read = client.get(f"/api/v1/workflows/{workflow['id']}")
    assert read["ETag"] == '"1"'
    assert Workflow.objects.get(pk=workflow["id"]).workspace == owner.workspace


def test_it_saves_the_draft_only_over_the_revision_it_was_loaded_at(client):
    workflow = create(client).json()
    url = f"/api/v1/workflows/{workflow['id']}/draft"
    first = client.put(
        url,
        {"graph": GOOD},
        content_type="application/json",
        headers={"If-Match": '"1"', "X-CSRFToken": client.csrf_token()},
    )
    assert first.status_code == 200
    assert first.json() == {"revision": 2, "problems": []}
    stale = client.put(
        url,
        {"graph": chain(TRIGGER)},
        content_type="application/json",
        headers={"If-Match": '"1"', "X-CSRFToken": client.csrf_token()},
    )
    assert stale.status_code == 409
    assert "saved elsewhere (now revision 2)" in stale.json()["error"]["message"]
    missing = client.put(
        url, {"graph": GOOD}, content_type="application/json", headers={"X-CSRFToken": client.csrf_token()}
    )
    assert missing.status_code == 428
    assert Workflow.objects.get(pk=workflow["id"]).draft == GOOD


def test_an_unfinished_draft_is_saved_with_its_problems_but_a_malformed_one_is_refused(client):
    workflow = create(client).json()
    url = f"/api/v1/workflows/{workflow['id']}/draft"
    unfinished = chain(TRIGGER, node("answer", "reply", answer="{{ nodes.ghost.x }}"))
    saved = client.put(
        url,
        {"graph": unfinished, "revision": 1},
        content_type="application/json",
        headers={"X-CSRFToken": client.csrf_token()},
    )
    assert saved.status_code == 200
    assert saved.json()["problems"] == [
        {
            "path": "nodes.1.params.answer",
            "code": "unknown_node_reference",
            "message": "There is no node 'ghost' to refer to",
        }
    ]
    broken = client.put(
        url,
        {"graph": {"nodes": "no"}, "revision": 2},
        content_type="application/json",
        headers={"X-CSRFToken": client.csrf_token()},
    )
    assert broken.status_code == 422
    assert broken.json()["error"]["details"]["problems"][0]["path"] == "nodes"


def test_it_validates_without_running_anything(client, server):
    workflow = create(client).json()
    graph = chain(TRIGGER, node("call", "http_request", url=server.url, method="POST"), node("x", "teleport"))
    problems = client.post_json(f"/api/v1/workflows/{workflow['id']}/validate", {"graph": graph}).json()
    assert [p["code"] for p in problems] == ["unknown_type"]
    assert server.requests() == []


def test_it_publishes_versions_and_refuses_an_invalid_draft(client):
    workflow = create(client, draft=GOOD).json()
    url = f"/api/v1/workflows/{workflow['id']}"
    published = client.post_json(f"{url}/publish", {"note": "first"})
    assert published.status_code == 201
    assert published.json()["number"] == 1
    Workflow.objects.filter(pk=workflow["id"]).update(draft=chain(TRIGGER, node("x", "teleport")))
    refused = client.post_json(f"{url}/publish", {"note": "broken"})
    assert refused.status_code == 422
    assert refused.json()["error"]["details"]["problems"][0]["code"] == "unknown_type"
    listed = client.get(f"{url}/versions").json()
    assert [(v["number"], v["note"]) for v in listed] == [(1, "first")]
    assert client.get(f"{url}/versions/1").json()["graph"] == GOOD
    assert client.get(f"{url}/versions/9").status_code == 404


def test_it_exports_and_imports_a_workflow(client):
    workflow = create(client, draft=GOOD, description="says hi").json()
    exported = client.get(f"/api/v1/workflows/{workflow['id']}/export").json()
    assert exported == {
        "format": "switchyard-workflow",
        "format_version": 1,
        "name": "Triage",
        "description": "says hi",
        "graph": GOOD,
    }
    imported = client.post_json("/api/v1/workflows/import", {**exported, "name": "Copy"})
    assert imported.status_code == 201
    assert Workflow.objects.get(name="Copy").draft == GOOD


def test_it_exports_a_published_version(client):
    workflow = create(client, draft=GOOD).json()
    url = f"/api/v1/workflows/{workflow['id']}"
    client.post_json(f"{url}/publish", {"note": "first"})
    client.put(
        f"{url}/draft",
        {"graph": chain(TRIGGER, node("answer", "reply", answer="newer")), "revision": 1},
        content_type="application/json",
        headers={"X-CSRFToken": client.csrf_token()},
    )
    assert client.get(f"{url}/export", {"version": 1}).json()["graph"] == GOOD
    assert client.get(f"{url}/export").json()["graph"]["nodes"][1]["params"] == {"answer": "newer"}
    missing = client.get(f"{url}/export", {"version": 5})
    assert missing.status_code == 404
    assert missing.json()["error"]["message"].startswith("version:")


def test_it_refuses_to_import_unknown_node_types_or_code(client):
    doc = {"name": "Evil", "graph": chain(TRIGGER, node("x", "python_exec", code="import os; os.system('id')"))}
    response = client.post_json("/api/v1/workflows/import", doc)
    assert response.status_code == 422
    assert response.json()["error"]["details"]["problems"] == [
        {"path": "nodes.1.type", "code": "unknown_type", "message": "There is no node type 'python_exec'"}
    ]
    assert not Workflow.objects.filter(name="Evil").exists()


def test_it_renames_and_archives(client):
    workflow = create(client).json()
    url = f"/api/v1/workflows/{workflow['id']}"
    patched = client.patch(
        url,
        {"name": "Renamed", "archived": True},
        content_type="application/json",
        headers={"X-CSRFToken": client.csrf_token()},
    )
    assert (patched.json()["name"], patched.json()["archived"]) == ("Renamed", True)
    assert "Renamed" not in [w["name"] for w in client.get("/api/v1/workflows").json()]


def test_viewers_and_outsiders_cannot_write(owner, outsider, login_as):
    from tests.factories import MembershipFactory

    workflow = create(login_as(owner)).json()
    viewer = login_as(MembershipFactory(workspace=owner.workspace, role="viewer"))
    assert viewer.post_json(f"/api/v1/workflows/{workflow['id']}/publish", {}).status_code == 403
    assert login_as(outsider).get(f"/api/v1/workflows/{workflow['id']}").status_code == 404


def test_a_token_needs_the_write_scope_to_create(owner):
    reader = tokens.issue(owner.workspace, owner.user, "r", ["workflows:read"], None).secret
    writer = tokens.issue(owner.workspace, owner.user, "w", ["workflows:write"], None).secret
    body = {"name": "Bot-made"}
    assert (
        Client()
        .post("/api/v1/workflows", body, content_type="application/json", headers={"Authorization": f"Bearer {reader}"})
        .status_code
        == 403
    )
    made = Client().post(
        "/api/v1/workflows", body, content_type="application/json", headers={"Authorization": f"Bearer {writer}"}
    )
    assert made.status_code == 201
    assert Workflow.objects.get(name="Bot-made").workspace == owner.workspace


def test_it_answers_413_for_an_oversized_body(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    response = create(client, description="x" * 20_000)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("celery_worker")
def test_it_waits_for_the_result_and_honours_idempotency_keys(owner, login_as):
    client = login_as(owner)
    workflow = create(client, draft=GOOD).json()
    client.post_json(f"/api/v1/workflows/{workflow['id']}/publish", {})
    url = f"/api/v1/workflows/{workflow['id']}/runs"
    token = client.csrf_token()
    waited = client.post(
        url, {"wait": True, "timeout_s": 20}, content_type="application/json", headers={"X-CSRFToken": token}
    )
    assert waited.status_code == 200
    assert (waited.json()["status"], waited.json()["output"]) == ("succeeded", {"answer": "hi"})
    headers = {"X-CSRFToken": token, "Idempotency-Key": "order-77"}
    first = client.post(url, {}, content_type="application/json", headers=headers).json()
    again = client.post(url, {}, content_type="application/json", headers=headers).json()
    assert first["id"] == again["id"]
    assert Run.objects.filter(idempotency_key="order-77").count() == 1


def test_it_refuses_a_wait_longer_than_the_cap_naming_the_field(owner, login_as, settings):
    client = login_as(owner)
    workflow = create(client, draft=GOOD).json()
    client.post_json(f"/api/v1/workflows/{workflow['id']}/publish", {})
    too_long = {"wait": True, "timeout_s": settings.RUN_WAIT_MAX_SECONDS + 1}
    refused = client.post_json(f"/api/v1/workflows/{workflow['id']}/runs", too_long)
    assert refused.status_code == 422
    assert "timeout_s" in refused.json()["error"]["message"]
    assert not Run.objects.filter(workflow_id=workflow["id"]).exists()


def test_it_lists_runs_with_filters_and_a_capped_page(owner, outsider, login_as):
    from tests.factories import RunFactory

    mine = [RunFactory(workspace=owner.workspace, status=s).pk for s in ("succeeded", "failed", "failed")]
    RunFactory(workspace=outsider.workspace, status="failed")
    client = login_as(owner)
    failed = client.get("/api/v1/runs?status=failed&limit=1").json()
    assert [r["id"] for r in failed["items"]] == [mine[2]]
    assert client.get(f"/api/v1/runs?status=failed&before={failed['next_before']}").json()["items"][0]["id"] == mine[1]
    assert client.get("/api/v1/runs?limit=1000").status_code == 422
    assert client.get("/api/v1/runs?status=exploded").json()["error"]["message"].startswith("Invalid fields: ")


def test_it_changes_a_workflow_as_the_list_page_does(client):
    from accounts.models import AuditEntry

    workflow = create(client).json()
    client.patch(
        f"/api/v1/workflows/{workflow['id']}",
        {"name": "Renamed", "description": "refunds", "archived": True},
        content_type="application/json",
        headers={"X-CSRFToken": client.csrf_token()},
    )
    entries = AuditEntry.objects.filter(target_type="builder.workflow", target_id=str(workflow["id"])).order_by("pk")
    actions = entries.values_list("action", flat=True)
    assert list(actions) == ["workflow.created", "workflow.renamed", "workflow.described", "workflow.archived"]
