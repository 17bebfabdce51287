from django.urls import path

from knowledge import views

app_name = "knowledge"

urlpatterns = [
    path("", views.base_list_view, name="knowledge-base-list"),
    path("<int:base_id>/", views.base_detail_view, name="knowledge-base-detail"),
    path("<int:base_id>/edit/", views.base_edit_view, name="knowledge-base-edit"),
    path("<int:base_id>/delete/", views.base_delete_view, name="knowledge-base-delete"),
    path("<int:base_id>/query/", views.query_view, name="knowledge-base-query"),
    path("<int:base_id>/upload/", views.upload_view, name="document-upload"),
    path("<int:base_id>/text/", views.text_view, name="document-text"),
    path("<int:base_id>/url/", views.url_view, name="document-url"),
    path("<int:base_id>/documents/<int:document_id>/", views.document_view, name="document-detail"),
    path("<int:base_id>/documents/<int:document_id>/reingest/", views.document_reingest_view, name="document-reingest"),
    path("<int:base_id>/documents/<int:document_id>/delete/", views.document_delete_view, name="document-delete"),
]
