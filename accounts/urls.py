from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import invitation_views, token_views, views

app_name = "accounts"

urlpatterns = [
    path("login/", invitation_views.SignInView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("settings/", views.settings_page, name="settings"),
    path("settings/invitations/", invitation_views.invitation_create, name="invitation-create"),
    path(
        "settings/invitations/<int:invitation_id>/revoke/",
        invitation_views.invitation_revoke,
        name="invitation-revoke",
    ),
    path("invitations/", invitation_views.invitation_list, name="invitations"),
    path("invitations/<int:invitation_id>/accept/", invitation_views.invitation_accept, name="invitation-accept"),
    path("invitations/<int:invitation_id>/decline/", invitation_views.invitation_decline, name="invitation-decline"),
    path("settings/members/<int:member_id>/role/", views.member_role, name="member-role"),
    path("settings/members/<int:member_id>/remove/", views.member_remove, name="member-remove"),
    path("settings/audit/", views.audit_log, name="audit"),
    path("settings/tokens/", token_views.token_list, name="tokens"),
    path("settings/tokens/<int:token_id>/revoke/", token_views.token_revoke, name="token-revoke"),
    path("workspaces/", views.workspace_create, name="workspace-create"),
    path("workspaces/<int:workspace_id>/switch/", views.workspace_switch, name="workspace-switch"),
]
