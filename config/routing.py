"""Websocket URL routes; asgi.py wraps them in origin and session checks."""

from django.urls import path

from accounts.consumers import WorkspaceConsumer
from engine.consumers import RunConsumer

websocket_urlpatterns = [
    path("ws/workspace/", WorkspaceConsumer.as_asgi()),
    path("ws/runs/<int:run_id>/", RunConsumer.as_asgi()),
]
