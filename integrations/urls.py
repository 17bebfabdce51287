from django.urls import path

from integrations import mcp_views, network_views, provider_views, secret_views

app_name = "integrations"

urlpatterns = [
    path("network/", network_views.network_settings, name="network-settings"),
    path("network/rotate/", network_views.rotate_webhook_secret, name="rotate-webhook-secret"),
    path("providers/", provider_views.provider_settings, name="provider-settings"),
    path("providers/embedding-model/", provider_views.embedding_model, name="embedding-model"),
    path("providers/<int:config_id>/", provider_views.provider_settings, name="provider-edit"),
    path("providers/<int:config_id>/delete/", provider_views.provider_delete, name="provider-delete"),
    path("mcp/", mcp_views.mcp_settings, name="mcp-settings"),
    path("mcp/<int:server_id>/", mcp_views.mcp_settings, name="mcp-edit"),
    path("mcp/<int:server_id>/test/", mcp_views.mcp_test, name="mcp-test"),
    path("mcp/<int:server_id>/delete/", mcp_views.mcp_delete, name="mcp-delete"),
    path("secrets/", secret_views.secret_settings, name="secret-settings"),
    path("secrets/<int:secret_id>/rotate/", secret_views.secret_rotate, name="secret-rotate"),
    path("secrets/<int:secret_id>/delete/", secret_views.secret_delete, name="secret-delete"),
]
