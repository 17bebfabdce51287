"""Uploads past the limit are refused while they stream in, without the server holding them in memory."""

import resource
import tracemalloc
from collections.abc import Iterator

import httpx
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts import tokens
from accounts.models import Scope
from knowledge.models import Document
from tests.factories import KnowledgeBaseFactory

MB = 1_000_000
BOUNDARY = "switchyard-upload-limit-test"


def multipart(filename: str, size: int) -> tuple[int, Iterator[bytes]]:
    """A multipart body with one file of `size` bytes, made a megabyte at a time, and its length."""
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="{filename}"\r\n'
        "Content-Type: text/plain\r\n\r\n"
    ).encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    block = b"a" * MB

    def chunks() -> Iterator[bytes]:
        yield head
        for _ in range(size // MB):
            yield block
        yield tail

    return len(head) + size + len(tail), chunks()


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux


def test_it_refuses_a_200_mb_upload_without_holding_it_in_memory(asgi_server, owner):
    base = KnowledgeBaseFactory(workspace=owner.workspace)
    issued = tokens.issue(owner.workspace, owner.user, "ci", list(Scope), None)
    length, body = multipart("huge.txt", 200 * MB)
    headers = {
        "Authorization": f"Bearer {issued.secret}",
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        "Content-Length": str(length),
    }
    rss_before = peak_rss_bytes()
    tracemalloc.start()
    try:
        # The server runs in this process (a thread), so these measure it too.
        response = httpx.post(
            f"{asgi_server}/api/v1/knowledge-bases/{base.pk}/documents", content=body, headers=headers, timeout=120
        )
        _, traced_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 422
    assert response.json()["error"]["message"] == "body.files: huge.txt: files can be at most 20 MB"
    assert traced_peak < 10 * MB
    assert peak_rss_bytes() - rss_before < 30 * MB
    assert not Document.objects.exists()


@pytest.mark.django_db
def test_the_page_refuses_an_oversized_file_and_keeps_the_others(owner, login_as, settings):
    settings.MAX_UPLOAD_FILE_BYTES = 1000
    base = KnowledgeBaseFactory(workspace=owner.workspace)
    client = login_as(owner)
    files = [
        SimpleUploadedFile("big.md", b"x" * 1001, "text/markdown"),
        SimpleUploadedFile("small.md", b"# Small\n\nfits", "text/markdown"),
    ]
    response = client.post(
        f"/knowledge/{base.pk}/upload/", {"files": files}, headers={"X-CSRFToken": client.csrf_token()}, follow=True
    )
    html = response.content.decode()
    assert "big.md: files can be at most 20 MB" in html
    assert "1 file queued for ingestion." in html
    assert list(Document.objects.values_list("filename", flat=True)) == ["small.md"]


def test_the_size_limit_handler_keeps_no_byte_past_the_limit(settings):
    from django.test import RequestFactory

    settings.MAX_UPLOAD_FILE_BYTES = 10
    request = RequestFactory().post(
        "/", {"files": [SimpleUploadedFile("a.txt", b"0123456789"), SimpleUploadedFile("b.txt", b"0123456789A")]}
    )
    kept = {file.name: (file.size, file.read()) for file in request.FILES.getlist("files")}
    assert kept == {"a.txt": (10, b"0123456789"), "b.txt": (11, b"")}
