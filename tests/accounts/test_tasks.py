from datetime import timedelta

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from accounts.tasks import clear_expired_sessions
from tests.eventually import eventually


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_clears_expired_sessions(celery_worker):
    stale, fresh = SessionStore(), SessionStore()
    stale.create()
    fresh.create()
    Session.objects.filter(session_key=stale.session_key).update(expire_date=timezone.now() - timedelta(days=1))

    clear_expired_sessions.delay()

    eventually(
        lambda: not Session.objects.filter(session_key=stale.session_key).exists(),
        timeout=20,
        message="the worker did not run the task",
    )
    assert Session.objects.filter(session_key=fresh.session_key).exists()
