"""Workspace secrets: write-only, filled in only for the outbound call, redacted everywhere else."""

import io
import json

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from accounts import tokens
from accounts.models import AuditEntry, Role
from engine import registry, secrets, workspace_secrets
from engine.errors import NodeError
from engine.graph import Graph, validate
from engine.models import NodeRun, WorkspaceSecret
from engine.runner import resolve_params
from engine.runs import RunRejected
from tests.engine.graphs import TRIGGER, chain, generate, node
from tests.engine.running import start, wait_for
from tests.factories import MembershipFactory, ProviderConfigFactory, WorkflowFactory
from tests.fakes import RecordingServer, Reply

CANARY = "sk-canary-4d1f9b7e2a"
ROTATED = "sk-rotated-8c3e5a0f61"


def canary_rows(text: str = CANARY) -> list[str]:
    """Every text or JSON column of every table of the database holding `text`, as table.column."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'"
            " AND data_type IN ('text', 'character varying', 'json', 'jsonb', 'character')"
        )
        columns = cursor.fetchall()
        found = []
        for table, column in columns:
            query = f'SELECT count(*) FROM "{table}" WHERE "{column}"::text LIKE %(pattern)s'  # noqa: S608
            cursor.execute(query, {"pattern": f"%{text}%"})
            if cursor.fetchone()[0]:
                found.append(f"{table}.{column}")
    return found


def http(node_id: str, **params: object) -> dict[str, object]:
    return node(node_id, "http_request", **params)


@pytest.mark.django_db(transaction=True)
def test_it_sends_the_secret_and_stores_it_nowhere(owner, login_as, celery_worker):
    secret = workspace_secrets.create(owner.workspace_id, "CANARY", CANARY, owner.user)
    echo = RecordingServer(Reply(body={"echo": CANARY, "note": f"key={CANARY}"}))
    refused = RecordingServer(Reply(status=401, body={"error": f"bad key {CANARY}"}))
    call = http(
        "call",
        url=echo.url + "/v1?key={{ secrets.CANARY }}",
        headers={"Authorization": "Bearer {{ secrets.CANARY }}", "X-Plain": "{{ input.who }}"},
    )
    post = http(
        "post",
        method="POST",
        url=refused.url + "/hook",
        headers={"X-Api-Key": "{{ secrets['CANARY'] | trim }}"},
        body={"who": "{{ input.who }}"},
        fail_on_error_status=False,
    )
    lookup = http("lookup", url="http://{{ secrets.CANARY | lower }}.invalid/")
    try:
        run = wait_for(start(owner.workspace, chain(TRIGGER, call, post, lookup), {"who": "ann"}))
    finally:
        echo.close()
        refused.close()

    assert run.status == "failed"
    [received] = echo.received
    assert received.headers["Authorization"] == f"Bearer {CANARY}"
    assert received.path == f"/v1?key={CANARY}"
    assert refused.received[0].headers["X-Api-Key"] == CANARY
    called = NodeRun.objects.get(run=run, node_id="call")
    assert called.input["headers"] == {"Authorization": "Bearer [secret CANARY]", "X-Plain": "ann"}
    assert called.input["url"].endswith("/v1?key=[secret CANARY]")
    assert called.output["body"] == {"echo": "[secret CANARY]", "note": "key=[secret CANARY]"}
    posted = NodeRun.objects.get(run=run, node_id="post")
    assert posted.input["headers"] == {"X-Api-Key": "[secret CANARY]"}
    assert posted.output["body"] == {"error": "bad key [secret CANARY]"}
    looked_up = NodeRun.objects.get(run=run, node_id="lookup")
    assert looked_up.error["message"] == "could not resolve [secret CANARY].invalid"

    client = login_as(owner)
    workflow_id = run.workflow_id
    answers = [
        client.get(f"/api/v1/runs/{run.pk}"),
        client.get(f"/api/v1/runs/{run.pk}/events"),
        client.get(f"/api/v1/workflows/{workflow_id}/export"),
        client.get(f"/api/v1/workflows/{workflow_id}/export?version={run.version_number}"),
        client.get(f"/api/v1/workflows/{workflow_id}"),
        client.get("/api/v1/secrets"),
        client.get("/accounts/settings/secrets/"),
        client.get(f"/runs/{run.pk}/"),
        client.get("/accounts/settings/audit/"),
    ]
    for answer in answers:
        assert answer.status_code == 200, answer.request["PATH_INFO"]
        assert CANARY not in answer.content.decode(), answer.request["PATH_INFO"]
    assert "[secret CANARY]" in answers[0].content.decode()
    assert canary_rows() == []
    assert "noderun.input" in " ".join(canary_rows("[secret CANARY]"))
    assert CANARY not in celery_worker.output()
    assert secrets.decrypt(WorkspaceSecret.objects.get(pk=secret.pk).value_encrypted) == CANARY


@pytest.mark.django_db(transaction=True)
def test_it_uses_the_rotated_value_and_refuses_runs_once_deleted(owner, login_as, celery_worker, server):
    client = login_as(owner)
    created = client.post_json("/api/v1/secrets", {"name": "CRM_KEY", "value": CANARY}).json()
    graph = chain(TRIGGER, http("call", url=server.url, headers={"Authorization": "Token {{ secrets.CRM_KEY }}"}))

    rotated = client.put(
        f"/api/v1/secrets/{created['id']}",
        {"value": ROTATED},
        content_type="application/json",
        headers={"X-CSRFToken": client.csrf_token()},
    )
    after_rotation = wait_for(start(owner.workspace, graph))
    deleted = client.delete(f"/api/v1/secrets/{created['id']}", headers={"X-CSRFToken": client.csrf_token()})
    with pytest.raises(RunRejected) as refused:
        start(owner.workspace, graph)

    assert rotated.status_code == 200
    assert rotated.json()["updated_by"] == owner.user.username
    assert after_rotation.status == "succeeded"
    assert [r.headers["Authorization"] for r in server.received] == [f"Token {ROTATED}"]
    assert deleted.status_code == 204
    assert [(p["path"], p["code"]) for p in refused.value.problems] == [
        ("nodes.1.params.headers.Authorization", "unknown_secret")
    ]
    assert len(server.received) == 1


@pytest.mark.django_db(transaction=True)
def test_it_fails_the_node_when_its_secret_is_deleted_during_the_run(owner, celery_worker):
    workspace_secrets.create(owner.workspace_id, "CRM_KEY", CANARY, owner.user)
    slow, target = RecordingServer(Reply(delay_s=1.5)), RecordingServer()
    graph = chain(
        TRIGGER,
        http("slow", url=slow.url),
        http("call", url=target.url, headers={"Authorization": "{{ secrets.CRM_KEY }}"}),
    )
    try:
        run = start(owner.workspace, graph)
        # "call" cannot start before "slow" has its answer, 1.5 s from now.
        WorkspaceSecret.objects.filter(workspace=owner.workspace).delete()
        run = wait_for(run)
    finally:
        slow.close()
        target.close()

    failed = NodeRun.objects.get(run=run, node_id="call")
    assert (run.status, failed.status, failed.error["code"]) == ("failed", "failed", "unknown_secret")
    assert "The secret CRM_KEY does not exist in this workspace" in failed.error["message"]
    assert target.received == []


@pytest.mark.django_db
def test_it_keeps_values_write_only_in_the_api(owner, login_as):
    client = login_as(owner)
    created = client.post_json("/api/v1/secrets", {"name": "STRIPE_KEY", "value": CANARY})
    listed = client.get("/api/v1/secrets")
    bad_name = client.post_json("/api/v1/secrets", {"name": "stripe-key", "value": CANARY})
    taken = client.post_json("/api/v1/secrets", {"name": "STRIPE_KEY", "value": CANARY})
    short = client.post_json("/api/v1/secrets", {"name": "OTHER", "value": "abc"})
    missing = client.post_json("/api/v1/secrets", {"name": "OTHER"})

    assert created.status_code == 201
    assert set(created.json()) == {"id", "name", "created_at", "updated_at", "created_by", "updated_by"}
    assert [entry["name"] for entry in listed.json()] == ["STRIPE_KEY"]
    assert listed.json()[0]["created_by"] == owner.user.username
    for answer in (created, listed, bad_name, taken, short, missing):
        assert CANARY not in answer.content.decode()
    assert (bad_name.status_code, bad_name.json()["error"]["message"].split(":")[0]) == (422, "body.name")
    assert "already has a secret named STRIPE_KEY" in taken.json()["error"]["message"]
    assert (short.status_code, short.json()["error"]["message"].split(":")[0]) == (422, "body.value")
    assert missing.status_code == 422
    assert CANARY not in json.dumps(list(AuditEntry.objects.values_list("details", flat=True)))
    assert list(AuditEntry.objects.filter(action="secret.created").values_list("details", flat=True)) == [
        {"name": "STRIPE_KEY"}
    ]


@pytest.mark.django_db
def test_it_lets_only_owners_signed_in_manage_secrets(owner, teammate, outsider, login_as, client):
    secret = workspace_secrets.create(owner.workspace_id, "CRM_KEY", CANARY, owner.user)
    viewer = MembershipFactory(workspace=owner.workspace, role=Role.VIEWER)
    editor_client, outsider_client = login_as(teammate), login_as(outsider)
    token = tokens.issue(owner.workspace, owner.user, "ci", ["workflows:read"], None).secret
    bearer = {"Authorization": f"Bearer {token}"}

    assert editor_client.get("/api/v1/secrets").status_code == 403
    assert login_as(viewer).get("/accounts/settings/secrets/").status_code == 403
    assert editor_client.post_json("/api/v1/secrets", {"name": "MINE", "value": CANARY}).status_code == 403
    assert outsider_client.get(f"/api/v1/secrets?workspace_id={owner.workspace_id}").status_code == 404
    assert (
        outsider_client.delete(
            f"/api/v1/secrets/{secret.pk}", headers={"X-CSRFToken": outsider_client.csrf_token()}
        ).status_code
        == 404
    )
    assert client.get("/api/v1/secrets", headers=bearer).status_code == 403
    assert outsider_client.post_form(f"/accounts/settings/secrets/{secret.pk}/delete/").status_code == 404
    assert WorkspaceSecret.objects.filter(workspace=owner.workspace).count() == 1


@pytest.mark.django_db
def test_it_adds_rotates_and_deletes_secrets_on_the_settings_page(owner, login_as):
    client = login_as(owner)
    htmx = {"HX-Request": "true"}
    added = client.post_form("/accounts/settings/secrets/", {"name": "CRM_KEY", "value": CANARY}, headers=htmx)
    secret = WorkspaceSecret.objects.get(workspace=owner.workspace, name="CRM_KEY")
    rotated = client.post_form(f"/accounts/settings/secrets/{secret.pk}/rotate/", {"value": ROTATED}, headers=htmx)
    bad = client.post_form("/accounts/settings/secrets/", {"name": "crm", "value": CANARY})
    page = client.get("/accounts/settings/secrets/")
    no_csrf = client.post("/accounts/settings/secrets/", {"name": "FORGED", "value": CANARY})

    assert added.status_code == 200
    assert added.content.decode().lstrip().startswith('<section class="card" id="secrets">')
    assert "Saved the secret CRM_KEY" in added.content.decode()
    assert rotated.status_code == 200
    assert secrets.decrypt(WorkspaceSecret.objects.get(pk=secret.pk).value_encrypted) == ROTATED
    assert bad.status_code == 422
    assert "capital letters" in bad.content.decode()
    assert page.status_code == 200
    assert 'data-secret="CRM_KEY"' in page.content.decode()
    assert "Secrets</a>" in page.content.decode()
    for answer in (added, rotated, bad, page):
        assert CANARY not in answer.content.decode()
        assert ROTATED not in answer.content.decode()
    assert no_csrf.status_code == 403
    deleted = client.post_form(f"/accounts/settings/secrets/{secret.pk}/delete/")
    assert deleted.status_code == 302
    assert not WorkspaceSecret.objects.filter(pk=secret.pk).exists()


@pytest.mark.django_db
def test_it_allows_secrets_only_in_the_params_that_may_send_them():
    graph = chain(
        TRIGGER,
        http(
            "call", url="https://api.example.com/?k={{ secrets.API }}", headers={"Authorization": "{{ secrets.API }}"}
        ),
        node("shape", "transform", fields={"leak": "{{ secrets.API }}"}),
        http("body", url="https://api.example.com/", method="POST", body={"k": "{{ secrets.API }}"}),
        http("pick", url="https://api.example.com/", headers={"X": "{{ secrets[input.name] }}"}),
        http("gone", url="https://api.example.com/", headers={"X": "{{ secrets.MISSING }}"}),
    )

    problems = {(p.path, p.code) for p in validate(graph, secret_names={"API"})}

    assert ("nodes.2.params.fields.leak", "secret_not_allowed") in problems
    assert ("nodes.3.params.body.k", "secret_not_allowed") in problems
    assert ("nodes.4.params.headers.X", "bad_expression") in problems
    assert ("nodes.5.params.headers.X", "unknown_secret") in problems
    assert not {p for p in problems if p[0].startswith("nodes.1.")}
    assert not {p for p in validate(graph) if p.code == "unknown_secret"}


@pytest.mark.django_db
def test_it_refuses_to_start_a_run_that_uses_a_secret_where_it_may_not(owner):
    workspace_secrets.create(owner.workspace_id, "API", CANARY, owner.user)

    with pytest.raises(RunRejected) as refused:
        start(owner.workspace, chain(TRIGGER, node("shape", "transform", fields={"x": "{{ secrets.API }}"})))

    assert [(p["path"], p["code"]) for p in refused.value.problems] == [
        ("nodes.1.params.fields.x", "secret_not_allowed")
    ]


def test_it_renders_no_secret_in_a_param_that_does_not_allow_them():
    graph = Graph.model_validate(chain(TRIGGER, node("shape", "transform", fields={"x": "{{ secrets.API }}"})))
    shape = graph.node("shape")

    with pytest.raises(NodeError) as failed:
        resolve_params(registry.get("transform"), shape, {"input": {}, "nodes": {}}, {"API": "[secret API]"})

    assert failed.value.code == "expression_error"
    assert "secrets" in str(failed.value)


@pytest.mark.django_db
def test_it_exports_and_imports_the_names_and_never_the_values(owner, login_as):
    client = login_as(owner)
    workspace_secrets.create(owner.workspace_id, "CRM_KEY", CANARY, owner.user)
    graph = chain(
        TRIGGER, http("call", url="https://api.example.com/", headers={"Authorization": "{{ secrets.CRM_KEY }}"})
    )
    created = client.post_json("/api/v1/workflows", {"name": "crm", "draft": graph}).json()
    exported = client.get(f"/api/v1/workflows/{created['id']}/export")
    imported = client.post_json("/api/v1/workflows/import", exported.json())

    assert CANARY not in exported.content.decode()
    assert exported.json()["graph"]["nodes"][1]["params"]["headers"] == {"Authorization": "{{ secrets.CRM_KEY }}"}
    assert imported.status_code == 201
    assert imported.json()["draft"]["nodes"][1]["params"]["headers"] == {"Authorization": "{{ secrets.CRM_KEY }}"}


@pytest.mark.django_db
def test_it_rotates_secrets_under_the_newest_credential_key(owner, settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.CREDENTIAL_KEYS = [old]
    secret = workspace_secrets.create(owner.workspace_id, "CRM_KEY", CANARY, owner.user)
    settings.CREDENTIAL_KEYS = [new, old]
    out = io.StringIO()
    call_command("rotate_credentials", stdout=out)
    settings.CREDENTIAL_KEYS = [new]

    assert "Re-encrypted 1 workspace secrets" in out.getvalue()
    assert secrets.decrypt(WorkspaceSecret.objects.get(pk=secret.pk).value_encrypted) == CANARY


@pytest.mark.django_db(transaction=True)
def test_it_fills_secrets_into_provider_headers_and_stores_them_nowhere(owner, celery_worker, fake, price):
    workspace_secrets.create(owner.workspace_id, "GATEWAY_KEY", CANARY, owner.user)
    ProviderConfigFactory(
        workspace=owner.workspace, name="fake", base_url=fake.url, headers={"x-api-key": "{{ secrets.GATEWAY_KEY }}"}
    )

    run = wait_for(start(owner.workspace, chain(TRIGGER, generate(prompt="hello"))))

    assert run.status == "succeeded"
    assert [seen.headers["x-api-key"] for seen in fake.seen] == [CANARY]
    assert canary_rows() == []
    assert CANARY not in celery_worker.output()


@pytest.mark.django_db
def test_it_refuses_secrets_in_an_inbound_webhook_mapping(owner, login_as):
    workspace_secrets.create(owner.workspace_id, "API", CANARY, owner.user)
    flow = WorkflowFactory(workspace=owner.workspace)

    response = login_as(owner).post_json(
        f"/api/v1/workflows/{flow.pk}/webhook", {"input_mapping": {"key": "{{ secrets.API }}"}}
    )

    assert response.status_code == 422
    assert response.json()["error"]["message"] == "input_mapping.key: secrets are not available here"


@pytest.mark.django_db(transaction=True)
def test_it_drops_secret_headers_on_a_redirect_to_another_origin(owner, celery_worker):
    workspace_secrets.create(owner.workspace_id, "API", CANARY, owner.user)
    elsewhere = RecordingServer()
    origin = RecordingServer(Reply(status=302, body=b"", headers={"Location": elsewhere.url + "/landed"}))
    call = http("call", url=origin.url, headers={"X-Api-Key": "{{ secrets.API }}", "X-Trace": "t-1"})
    try:
        run = wait_for(start(owner.workspace, chain(TRIGGER, call)))
    finally:
        origin.close()
        elsewhere.close()

    assert run.status == "succeeded"
    assert origin.received[0].headers["X-Api-Key"] == CANARY
    [landed] = elsewhere.received
    assert (landed.path, landed.headers.get("X-Trace"), landed.headers.get("X-Api-Key")) == ("/landed", "t-1", None)
