"""Requests' sync work runs on kept threads (config/request_threads.py), one request at a time each."""

import threading

import httpx
import pytest

from config import request_threads
from tests.eventually import eventually


@pytest.fixture
def no_idle_threads():
    for thread in request_threads._idle:
        thread.shutdown(wait=False)
    request_threads._idle.clear()
    yield
    request_threads._idle.clear()


def test_requests_one_after_another_run_on_one_kept_thread(asgi_server, no_idle_threads):
    with httpx.Client(base_url=asgi_server, trust_env=False, timeout=10) as http:
        assert http.get("/healthz").status_code == 200  # a sync view: it runs on the request's thread
        # The answer is sent before the request's thread is given back.
        eventually(lambda: len(request_threads._idle) == 1, timeout=10)
        kept = list(request_threads._idle)
        assert http.get("/accounts/login/").status_code == 200

    eventually(lambda: request_threads._idle == kept, timeout=10)


def test_an_idle_thread_is_taken_again(no_idle_threads):
    thread = request_threads.take()
    thread.submit(lambda: None).result(timeout=10)

    request_threads.give_back(thread)

    assert request_threads.take() is thread


def test_a_thread_with_work_left_is_let_go(no_idle_threads):
    thread = request_threads.take()
    release = threading.Event()
    still_running = thread.submit(release.wait, 10)

    request_threads.give_back(thread)
    release.set()

    assert request_threads._idle == []
    assert still_running.result(timeout=10) is True
    eventually(lambda: thread.unfinished == 0, timeout=10)
    assert request_threads.take() is not thread


def test_it_keeps_at_most_so_many_idle_threads(no_idle_threads, monkeypatch):
    monkeypatch.setattr(request_threads, "IDLE_KEPT", 2)
    threads = [request_threads.take() for _ in range(3)]

    for thread in threads:
        request_threads.give_back(thread)

    assert request_threads._idle == threads[:2]
