"""/metrics for Prometheus: the processes' own metrics, and gauges read from the database at scrape time.

Off unless METRICS_TOKEN is set; a scrape then sends it as a bearer token. With
PROMETHEUS_MULTIPROC_DIR set (production: web and workers share the directory) the answer
sums every process's files; without it (the embedded mode) it is this process's registry,
which holds the in-process worker's metrics too (docs/observability.md).
"""

import hmac
from collections.abc import Iterator

from django.conf import settings
from django.db.models import Count, Min
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from approvals.models import ApprovalRequest
from approvals.models import Status as ApprovalStatus
from knowledge.models import Document
from knowledge.models import Status as DocumentStatus


class DatabaseGauges:
    """Counts the database holds anyway, read per scrape rather than kept in step by every process.

    Both are one aggregate over a table without a per-workspace filter; a scrape every 15 s or
    more makes that cheap next to the pages that read the same rows.
    """

    def collect(self) -> Iterator[Metric]:
        pending = ApprovalRequest.objects.filter(status=ApprovalStatus.PENDING).aggregate(
            count=Count("id"), oldest=Min("created_at")
        )
        yield GaugeMetricFamily(
            "switchyard_approvals_pending", "Approval requests awaiting a decision.", pending["count"]
        )
        age = (timezone.now() - pending["oldest"]).total_seconds() if pending["oldest"] else 0.0
        yield GaugeMetricFamily(
            "switchyard_approvals_oldest_pending_age_seconds",
            "Age of the oldest approval request awaiting a decision.",
            age,
        )
        documents = GaugeMetricFamily(
            "switchyard_knowledge_documents", "Knowledge documents by ingestion status.", labels=["status"]
        )
        counted = dict(Document.objects.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
        for status in DocumentStatus:
            documents.add_metric([status.value], counted.get(status.value, 0))
        yield documents


def authorized(request: HttpRequest) -> bool:
    sent = request.headers.get("Authorization", "")
    return hmac.compare_digest(sent.encode(), f"Bearer {settings.METRICS_TOKEN}".encode())


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not settings.METRICS_TOKEN:
        raise Http404("metrics are off: set METRICS_TOKEN")
    if not authorized(request):
        response = HttpResponse("a bearer token is required", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if settings.PROMETHEUS_MULTIPROC_DIR:
        processes = CollectorRegistry()
        multiprocess.MultiProcessCollector(processes, path=settings.PROMETHEUS_MULTIPROC_DIR)
    else:
        processes = REGISTRY
    database = CollectorRegistry()
    database.register(DatabaseGauges())
    return HttpResponse(generate_latest(processes) + generate_latest(database), content_type=CONTENT_TYPE_LATEST)
