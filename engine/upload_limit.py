"""Uploaded files capped while they stream in: past MAX_UPLOAD_FILE_BYTES a file is counted, not kept.

Django's own handlers keep every byte of a file (in memory or a temporary file) before any view
can look at its size, and a view that then called file.read() held all of it: one 200 MB upload
raised the process's peak memory by 200 MB before the 20 MB limit refused it.
"""

import io
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler


class RefusedUpload(UploadedFile):
    """Stands in for a file over the limit: its size is the size sent and its content is empty,
    so every size check that comes after refuses it with its own message."""

    def __init__(self, name: str, size: int, content_type: str) -> None:
        super().__init__(io.BytesIO(), name, content_type, size)


class UploadSizeLimit(FileUploadHandler):
    """First in FILE_UPLOAD_HANDLERS: passes a file's chunks on to Django's handlers until the file
    goes past the limit, then swallows the rest and completes the file as a RefusedUpload."""

    over = False

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.over = False

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        if start + len(raw_data) > settings.MAX_UPLOAD_FILE_BYTES:
            self.over = True  # `start` counts every byte of this file so far, so it stays over
        return None if self.over else raw_data

    def file_complete(self, file_size: int) -> UploadedFile | None:
        if not self.over:
            return None  # the next handler (memory or temporary file) completes it
        return RefusedUpload(self.file_name or "upload", file_size, self.content_type or "")
