from django.urls import path

from approvals import views

app_name = "approvals"

urlpatterns = [
    path("", views.inbox_view, name="inbox"),
    path("history/", views.history_view, name="history"),
    path("notifications/", views.notifications_view, name="notifications"),
    path("<int:approval_id>/", views.item_view, name="item"),
    path("<int:approval_id>/decide/", views.decide_view, name="decide"),
    path("<int:approval_id>/claim/", views.claim_view, name="claim"),
    path("<int:approval_id>/diff/", views.diff_view, name="diff"),
    path("runs/<int:run_id>/<str:node_id>/calls/<str:key>/", views.tool_call_view, name="tool-call"),
]
