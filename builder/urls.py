from django.urls import path

from builder import quality_views, schedule_views, version_views, views
from evals import comparison_views

app_name = "builder"

urlpatterns = [
    path("", views.workflow_list, name="workflow-list"),
    path("<int:workflow_id>/", views.workflow_designer, name="workflow-designer"),
    path("new/", views.workflow_create, name="workflow-create"),
    path("import/", views.workflow_import, name="workflow-import"),
    path("<int:workflow_id>/rename/", views.workflow_rename, name="workflow-rename"),
    path("<int:workflow_id>/duplicate/", views.workflow_duplicate, name="workflow-duplicate"),
    path("<int:workflow_id>/archive/", views.workflow_archive, name="workflow-archive"),
    path("<int:workflow_id>/export/", views.workflow_export, name="workflow-export"),
    path("<int:workflow_id>/versions/", version_views.workflow_versions, name="workflow-versions"),
    path("<int:workflow_id>/versions/diff/", version_views.version_diff, name="version-diff"),
    path("<int:workflow_id>/versions/<int:number>/", version_views.version_detail, name="version-detail"),
    path("<int:workflow_id>/versions/<int:number>/restore/", version_views.version_restore, name="version-restore"),
    path("<int:workflow_id>/mcp-tool/", version_views.workflow_mcp_tool, name="workflow-mcp-tool"),
    path("<int:workflow_id>/runs/", views.workflow_runs, name="workflow-runs"),
    path("<int:workflow_id>/quality/", quality_views.workflow_quality, name="workflow-quality"),
    path("<int:workflow_id>/quality/<slug:key>.csv", quality_views.quality_export, name="quality-export"),
    path("<int:workflow_id>/gate/", version_views.gate_settings, name="gate-settings"),
    path("<int:workflow_id>/evals/check-draft/", version_views.check_draft, name="check-draft"),
    path("<int:workflow_id>/evals/compare/", comparison_views.eval_compare, name="eval-compare"),
    path("<int:workflow_id>/schedules/", schedule_views.workflow_schedules, name="workflow-schedules"),
    path(
        "<int:workflow_id>/schedules/<int:schedule_id>/toggle/", schedule_views.schedule_toggle, name="schedule-toggle"
    ),
    path(
        "<int:workflow_id>/schedules/<int:schedule_id>/delete/", schedule_views.schedule_delete, name="schedule-delete"
    ),
]
