from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from config.api import api
from config.health import healthz

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="builder:workflow-list"), name="home"),
    path("healthz", healthz, name="healthz"),
    path("accounts/", include("accounts.urls")),
    path("workflows/", include("builder.urls")),
    path("inbox/", include("approvals.urls")),
    path("knowledge/", include("knowledge.urls")),
    path("costs/", include("costs.urls")),
    path("", include("engine.urls")),
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
]
