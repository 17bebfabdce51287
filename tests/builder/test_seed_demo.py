import json
from io import StringIO

from django.contrib.auth.models import User
from django.core.management import call_command

from accounts.models import Membership, Workspace
from builder.agent_demo import shop_allowlist_entry
from builder.models import Workflow
from engine.graph import validate


def run_seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_it_creates_the_demo_workspace_and_prints_working_logins(db, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    printed = run_seed()
    logins = json.loads((tmp_path / "demo-logins.json").read_text())
    assert (tmp_path / "demo-logins.json").stat().st_mode & 0o777 == 0o600
    for username, role in [("admin", "owner"), ("reviewer", "reviewer")]:
        assert f"password: {logins[username]}" in printed
        user = User.objects.get(username=username)
        assert user.check_password(logins[username])
        assert Membership.objects.get(user=user, workspace__slug="demo").role == role
    assert User.objects.get(username="admin").is_superuser
    assert not User.objects.get(username="reviewer").is_staff
    workflow = Workflow.objects.get(workspace__slug="demo", name="Ticket routing")
    assert workflow.versions.count() == 1
    assert validate(workflow.latest_version().graph) == []


def test_it_is_idempotent_and_prints_the_same_logins_again(db, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    first = run_seed()
    second = run_seed()
    assert first == second
    assert User.objects.filter(username__in=["admin", "reviewer"]).count() == 2
    assert Membership.objects.filter(workspace__slug="demo").count() == 2
    names = Workflow.objects.filter(workspace__slug="demo").values_list("name", flat=True)
    assert sorted(names) == [
        "Classify a document",
        "Classify documents",
        "Index a document",
        "Index documents",
        "Support agent",
        "Support triage",
        "Ticket routing",
    ]
    assert Workflow.objects.get(workspace__slug="demo", name="Support triage").versions.count() == 2
    # The support agent's HTTP tools reach the demo shop on this server: allowlisted once.
    assert Workspace.objects.get(slug="demo").http_allowlist == [shop_allowlist_entry()]
