from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from builder import demo_shop
from config.api import api
from config.health import healthz, readyz
from config.metrics import metrics

# A request that finds PostgreSQL or Redis unavailable answers 503 with Retry-After instead of 500.
handler500 = "config.unavailable.server_error"

urlpatterns = [
    # First: Django tries the patterns in order, and the API's requests are the most frequent (a trigger's
    # resolution walked every page's pattern before it, a twentieth of the web process's time under load).
    path("api/v1/", api.urls),
    path("", RedirectView.as_view(pattern_name="builder:workflow-list"), name="home"),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics, name="metrics"),
    path("accounts/", include("accounts.urls")),
    path("accounts/settings/", include("integrations.urls")),
    path("workflows/", include("builder.urls")),
    path("inbox/", include("approvals.urls")),
    path("knowledge/", include("knowledge.urls")),
    path("datasets/", include("datasets.urls")),
    path("costs/", include("costs.urls")),
    path("evals/", include("evals.urls")),
    path("", include("monitoring.urls")),
    path("admin/", admin.site.urls),
    path("demo/shop/orders/<str:order_id>", demo_shop.order, name="demo-shop-order"),
    path("demo/shop/refunds", demo_shop.refund, name="demo-shop-refund"),
]
