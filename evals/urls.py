from django.urls import path

from evals import set_views, views

app_name = "evals"

urlpatterns = [
    path("workflows/<int:workflow_id>/", views.workflow_evals_view, name="workflow-evals"),
    path("workflows/<int:workflow_id>/corrections/", views.corrections_view, name="corrections"),
    path("sets/<int:set_id>/", views.set_detail_view, name="set-detail"),
    path("sets/<int:set_id>/rows/", views.set_rows_view, name="set-rows"),
    path("sets/<int:set_id>/scorers/", set_views.scorer_add_view, name="set-scorers"),
    path("sets/<int:set_id>/scorers/<int:scorer_id>/", set_views.scorer_edit_view, name="scorer-edit"),
    path("sets/<int:set_id>/scorers/<int:scorer_id>/delete/", set_views.scorer_delete_view, name="scorer-delete"),
    path("sets/<int:set_id>/import/", set_views.import_view, name="set-import"),
    path("sets/<int:set_id>/runs/", views.set_run_view, name="set-run"),
    path("proposals/<int:proposal_id>/accept/", views.proposal_view, {"action": "accept"}, name="proposal-accept"),
    path("proposals/<int:proposal_id>/dismiss/", views.proposal_view, {"action": "dismiss"}, name="proposal-dismiss"),
    path("runs/<int:eval_run_id>/", views.run_detail_view, name="run-detail"),
    path("runs/<int:eval_run_id>/results.csv", views.run_download_view, name="run-download"),
    path("add-run/<int:run_id>/", views.add_to_set_view, name="add-run"),
]
