"""Project wiring: settings, URLs, ASGI, Celery and the embedded one-process runner."""

from config.celery import app as celery_app

__all__ = ["celery_app"]
