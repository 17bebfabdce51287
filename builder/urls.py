from django.urls import path

from builder import schedule_views, views

app_name = "builder"

urlpatterns = [
    path("", views.workflow_list, name="workflow-list"),
    path("<int:workflow_id>/", views.workflow_designer, name="workflow-designer"),
    path("<int:workflow_id>/runs/", views.workflow_runs, name="workflow-runs"),
    path("<int:workflow_id>/schedules/", schedule_views.workflow_schedules, name="workflow-schedules"),
    path(
        "<int:workflow_id>/schedules/<int:schedule_id>/toggle/", schedule_views.schedule_toggle, name="schedule-toggle"
    ),
    path(
        "<int:workflow_id>/schedules/<int:schedule_id>/delete/", schedule_views.schedule_delete, name="schedule-delete"
    ),
]
