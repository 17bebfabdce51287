"""Websocket URL routes; asgi.py wraps them in origin and session checks."""

from django.urls import path

from accounts.consumers import WorkspaceConsumer

websocket_urlpatterns = [
    path("ws/workspace/", WorkspaceConsumer.as_asgi()),
]
