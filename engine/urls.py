from django.urls import path

from engine import views

app_name = "engine"

urlpatterns = [
    path("runs/", views.run_list, name="run-list"),
    path("runs/<int:run_id>/", views.run_detail, name="run-detail"),
    path("accounts/settings/network/", views.network_settings, name="network-settings"),
    path("accounts/settings/network/rotate/", views.rotate_webhook_secret, name="rotate-webhook-secret"),
]
