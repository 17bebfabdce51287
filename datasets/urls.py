from django.urls import path, re_path

from datasets import batch_views, views

app_name = "datasets"

urlpatterns = [
    path("", views.dataset_list_view, name="dataset-list"),
    path("from-runs/", views.from_runs_view, name="dataset-from-runs"),
    path("<int:dataset_id>/", views.dataset_detail_view, name="dataset-detail"),
    path("<int:dataset_id>/delete/", views.dataset_delete_view, name="dataset-delete"),
    path("<int:dataset_id>/batches/", batch_views.batch_start_view, name="batch-start"),
    path("batches/<int:batch_id>/", batch_views.batch_detail_view, name="batch-detail"),
    path("batches/<int:batch_id>/retry/", batch_views.batch_retry_view, name="batch-retry"),
    path("batches/<int:batch_id>/cancel/", batch_views.batch_cancel_view, name="batch-cancel"),
    re_path(
        r"^batches/(?P<batch_id>[0-9]+)/results\.(?P<format>csv|jsonl)$",
        batch_views.batch_download_view,
        name="batch-download",
    ),
]
