from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import token_views, views

app_name = "accounts"

urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="accounts/login.html", redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("settings/", views.settings_page, name="settings"),
    path("settings/members/", views.member_add, name="member-add"),
    path("settings/members/<int:member_id>/role/", views.member_role, name="member-role"),
    path("settings/members/<int:member_id>/remove/", views.member_remove, name="member-remove"),
    path("settings/audit/", views.audit_log, name="audit"),
    path("settings/tokens/", token_views.token_list, name="tokens"),
    path("settings/tokens/<int:token_id>/revoke/", token_views.token_revoke, name="token-revoke"),
    path("workspaces/", views.workspace_create, name="workspace-create"),
    path("workspaces/<int:workspace_id>/switch/", views.workspace_switch, name="workspace-switch"),
]
