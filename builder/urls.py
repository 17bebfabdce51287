from django.urls import path

from accounts.sections import section_page

app_name = "builder"

urlpatterns = [
    path("", section_page("builder/workflow_list.html"), name="workflow-list"),
]
