import pytest

from accounts.audit import record
from accounts.models import AuditEntry, AuditLogIsAppendOnly


def test_it_records_who_did_what_to_which_object(owner, teammate):
    entry = record(owner.user, "member.promoted", workspace=owner.workspace, target=teammate, reason="on call")
    stored = AuditEntry.objects.get(pk=entry.pk)
    assert stored.actor == owner.user
    assert stored.actor_label == "olivia"
    assert stored.action == "member.promoted"
    assert stored.workspace == owner.workspace
    assert (stored.target_type, stored.target_id) == ("accounts.membership", str(teammate.pk))
    assert stored.target_label == str(teammate)
    assert stored.details == {"reason": "on call"}
    assert stored.created_at is not None


def test_it_records_system_actions_without_an_actor(workspace):
    entry = record(None, "schedule.fired", workspace=workspace)
    assert entry.actor is None
    assert str(entry) == "system schedule.fired"


def test_it_refuses_to_change_an_entry(owner):
    entry = record(owner.user, "x.happened", workspace=owner.workspace)
    entry.action = "nothing.happened"
    with pytest.raises(AuditLogIsAppendOnly):
        entry.save()
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEntry.objects.filter(pk=entry.pk).update(action="nothing.happened")
    assert AuditEntry.objects.get(pk=entry.pk).action == "x.happened"


def test_it_refuses_to_delete_entries(owner):
    entry = record(owner.user, "x.happened", workspace=owner.workspace)
    with pytest.raises(AuditLogIsAppendOnly):
        entry.delete()
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEntry.objects.all().delete()
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_it_keeps_the_actors_name_after_the_account_is_deleted(owner):
    entry = record(owner.user, "x.happened", workspace=owner.workspace)
    owner.user.delete()
    stored = AuditEntry.objects.get(pk=entry.pk)
    assert stored.actor is None
    assert stored.actor_label == "olivia"


def test_it_records_sign_in_and_sign_out(owner, client):
    from tests.factories import PASSWORD

    client.post("/accounts/login/", {"username": "olivia", "password": PASSWORD})
    client.post("/accounts/logout/")
    client.post("/accounts/login/", {"username": "olivia", "password": "wrong"})
    actions = list(AuditEntry.objects.order_by("id").values_list("action", "actor_label"))
    assert actions == [("user.logged_in", "olivia"), ("user.logged_out", "olivia"), ("user.login_failed", "")]
    failure = AuditEntry.objects.get(action="user.login_failed")
    assert failure.details == {"username": "olivia", "ip_address": "127.0.0.1"}
    assert "wrong" not in str(AuditEntry.objects.values_list("details", flat=True))
