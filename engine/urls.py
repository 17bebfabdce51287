from django.urls import path

from accounts.sections import section_page
from engine import provider_views, views

app_name = "engine"

urlpatterns = [
    path("runs/", views.run_list, name="run-list"),
    path("runs/<int:run_id>/", views.run_detail, name="run-detail"),
    path("accounts/settings/network/", views.network_settings, name="network-settings"),
    path("accounts/settings/network/rotate/", views.rotate_webhook_secret, name="rotate-webhook-secret"),
    path("accounts/settings/providers/", provider_views.provider_settings, name="provider-settings"),
    path("accounts/settings/providers/<int:config_id>/", provider_views.provider_settings, name="provider-edit"),
    path("accounts/settings/providers/<int:config_id>/delete/", provider_views.provider_delete, name="provider-delete"),
    path("costs/", section_page("engine/cost_report.html"), name="cost-report"),
]
