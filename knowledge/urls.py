from django.urls import path

from accounts.sections import section_page

app_name = "knowledge"

urlpatterns = [
    path("", section_page("knowledge/knowledge_base_list.html"), name="knowledge-base-list"),
]
