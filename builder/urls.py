from django.urls import path

from builder import views

app_name = "builder"

urlpatterns = [
    path("", views.workflow_list, name="workflow-list"),
    path("<int:workflow_id>/runs/", views.workflow_runs, name="workflow-runs"),
]
