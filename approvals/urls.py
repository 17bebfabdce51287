from django.urls import path

from accounts.sections import section_page

app_name = "approvals"

urlpatterns = [
    path("", section_page("approvals/inbox.html"), name="inbox"),
]
