from django.urls import path

from engine import provider_views, secret_views, views

app_name = "engine"

urlpatterns = [
    path("runs/", views.run_list, name="run-list"),
    path("runs/<int:run_id>/", views.run_detail, name="run-detail"),
    path("accounts/settings/network/", views.network_settings, name="network-settings"),
    path("accounts/settings/network/rotate/", views.rotate_webhook_secret, name="rotate-webhook-secret"),
    path("accounts/settings/providers/", provider_views.provider_settings, name="provider-settings"),
    path("accounts/settings/providers/<int:config_id>/", provider_views.provider_settings, name="provider-edit"),
    path("accounts/settings/providers/<int:config_id>/delete/", provider_views.provider_delete, name="provider-delete"),
    path("accounts/settings/secrets/", secret_views.secret_settings, name="secret-settings"),
    path("accounts/settings/secrets/<int:secret_id>/rotate/", secret_views.secret_rotate, name="secret-rotate"),
    path("accounts/settings/secrets/<int:secret_id>/delete/", secret_views.secret_delete, name="secret-delete"),
]
