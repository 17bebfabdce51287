from django.urls import path

from accounts.sections import section_page

app_name = "engine"

urlpatterns = [
    path("runs/", section_page("engine/run_list.html"), name="run-list"),
    path("costs/", section_page("engine/cost_report.html"), name="cost-report"),
]
