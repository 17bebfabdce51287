"""Completion webhooks: when a run ends, a signed notice to each of its callback URLs.

The delivery rows are written in the transaction that ends the run (an outbox), sent after
commit, and retried with backoff by the reaper until a 2xx answer or MAX_ATTEMPTS. Each
notice carries an event id so receivers can drop a repeat. The signature is
HMAC-SHA256 over "<timestamp>.<body>" with the workspace's webhook secret:

    X-Switchyard-Signature: t=1700000000,v1=<hex>
"""

import hashlib
import hmac
import json
import random
import secrets
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import Workspace
from engine import outbound
from engine.errors import NodeError
from engine.models import DeliveryStatus, Run, RunPurpose, WebhookDelivery

MAX_ATTEMPTS = 8
FIRST_RETRY_S = 10
MAX_RETRY_S = 3600
CLAIM_S = 60


def signing_secret(workspace_id: int) -> str:
    """The workspace's secret, made on first use; two first uses at once keep one of them."""
    fresh = "whsec_" + secrets.token_urlsafe(32)
    Workspace.objects.filter(pk=workspace_id, webhook_secret="").update(webhook_secret=fresh)
    return Workspace.objects.values_list("webhook_secret", flat=True).get(pk=workspace_id)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str, body: bytes, tolerance_s: int = 300, now: float | None = None) -> bool:
    """Check a `t=…,v1=…` signature and that its timestamp is recent (replays are refused)."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        return False
    if abs((now or time.time()) - timestamp) > tolerance_s:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def queue(run: Run, now: datetime) -> list[int]:
    """Outbox rows for an ended run; called inside the transaction that ended it. An evaluation notifies no one."""
    # callback_urls first: it is loaded for every ending run, purpose only for one that has some.
    if not run.callback_urls or run.purpose == RunPurpose.EVALUATION:
        return []
    rows = [WebhookDelivery(run=run, url=url, event_id=uuid.uuid4(), next_attempt_at=now) for url in run.callback_urls]
    return [row.pk for row in WebhookDelivery.objects.bulk_create(rows)]


def notice(delivery: WebhookDelivery) -> dict[str, Any]:
    run = delivery.run
    return {
        "id": str(delivery.event_id),
        "type": "run.ended",
        "created_at": delivery.created_at,
        "run": {
            "id": run.pk,
            "workflow_id": run.workflow_id,
            "workflow_name": run.workflow_name,
            "version_number": run.version_number,
            "status": run.status,
            "output": run.output,
            "escalation_reason": run.escalation_reason,
            "error": run.error,
            "started_at": run.started_at,
            "finished_at": run.finished_at,
            "cost": run.cost,
        },
    }


def deliver(delivery_id: int) -> bool:
    """Send one due delivery once; True when the receiver took it."""
    now = timezone.now()
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now
    ).update(next_attempt_at=now + timedelta(seconds=CLAIM_S), attempts=F("attempts") + 1)
    if not claimed:
        return False
    delivery = WebhookDelivery.objects.select_related("run__workspace").get(pk=delivery_id)
    body = json.dumps(notice(delivery), cls=DjangoJSONEncoder).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Switchyard-Event-Id": str(delivery.event_id),
        "X-Switchyard-Signature": sign(signing_secret(delivery.run.workspace_id), int(time.time()), body),
    }
    try:
        response = outbound.request(
            "POST", delivery.url, headers=headers, body=body,
            allowlist=delivery.run.workspace.http_allowlist, timeout_s=10, max_bytes=65_536,
        )  # fmt: skip
    except NodeError as error:
        return _retry_or_give_up(delivery, None, str(error))
    if 200 <= response.status < 300:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.DELIVERED,
            delivered_at=timezone.now(),
            last_status_code=response.status,
            last_error="",
        )
        return True
    return _retry_or_give_up(delivery, response.status, f"the receiver answered {response.status}")


def _retry_or_give_up(delivery: WebhookDelivery, status: int | None, error: str) -> bool:
    if delivery.attempts >= MAX_ATTEMPTS:
        values: dict[str, Any] = {"status": DeliveryStatus.FAILED, "next_attempt_at": None}
    else:
        delay = min(MAX_RETRY_S, FIRST_RETRY_S * 2 ** (delivery.attempts - 1))
        # Jitter spreads the retries of many notices to one receiver that was down.
        values = {"next_attempt_at": timezone.now() + timedelta(seconds=delay * (0.8 + 0.4 * random.random()))}  # noqa: S311
    WebhookDelivery.objects.filter(pk=delivery.pk).update(last_status_code=status, last_error=error[:2000], **values)
    return False


def due(now: datetime, limit: int) -> list[int]:
    """Deliveries to send now: new ones and retries whose time has come."""
    pending = WebhookDelivery.objects.filter(Q(next_attempt_at__lte=now), status=DeliveryStatus.PENDING)
    return list(pending.values_list("pk", flat=True)[:limit])
