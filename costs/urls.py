from django.urls import path

from costs import budget_views, price_views, views

app_name = "costs"

urlpatterns = [
    path("", views.report_view, name="report"),
    path("export/<slug:key>.csv", views.export_view, name="export"),
    path("budgets/", budget_views.budget_list, name="budget-list"),
    path("budgets/<int:budget_id>/", budget_views.budget_edit, name="budget-edit"),
    path("budgets/<int:budget_id>/delete/", budget_views.budget_delete, name="budget-delete"),
    path("prices/", price_views.price_list, name="price-list"),
]
