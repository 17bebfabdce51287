"""Websocket URL routes; asgi.py wraps them in origin, session and token checks.

Every route's consumer is an accounts.consumers.AccessCheckedConsumer that declares its
`token_scope` (tests/accounts/test_scopes.py holds every route to that).
"""

from django.urls import path

from monitoring.consumers import RunConsumer, WorkspaceConsumer

websocket_urlpatterns = [
    path("ws/workspace/", WorkspaceConsumer.as_asgi()),
    path("ws/runs/<int:run_id>/", RunConsumer.as_asgi()),
]
