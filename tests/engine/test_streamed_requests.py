"""A streamed answer's request, sent with the SDK client's `post`: what `chat.completions.create` sends for the call."""

import pytest

from engine.errors import NonRetryableError
from engine.providers.base import ChatRequest, Unavailable
from engine.providers.openai_compatible import OpenAICompatibleProvider
from tests.fake_openai import Failure

REQUEST = ChatRequest(
    model="gpt-test",
    messages=({"role": "system", "content": "Be brief."}, {"role": "user", "content": "Where is my parcel?"}),
    temperature=0.3,
    max_tokens=50,
    stop=("END",),
)
# The SDK's own marker for `with_streaming_response`, which it sends along; the call read this way has no use for it.
SDK_MARKER = "x-stainless-raw-response"


def provider(fake):
    return OpenAICompatibleProvider("fake", fake.url, "sk-test", {"X-Team": "support"}, 30.0, allowlist=["127.0.0.1"])


def test_it_sends_the_body_and_headers_the_sdks_create_sends(fake):
    called = provider(fake)
    pieces: list[str] = []

    answer = called.chat(REQUEST, timeout_s=20, on_text=pieces.append)
    with called.client.chat.completions.with_streaming_response.create(
        model="gpt-test",
        messages=[dict(message) for message in REQUEST.messages],
        temperature=0.3,
        max_tokens=50,
        stop=["END"],
        stream=True,
        stream_options={"include_usage": True},
        timeout=20,
    ) as response:
        response.read()

    ours, sdks = fake.seen[-2:]
    assert "".join(pieces) == answer.text == fake.default_answer
    assert (ours.path, ours.body) == (sdks.path, sdks.body)
    assert ours.headers == {name: value for name, value in sdks.headers.items() if name != SDK_MARKER}
    assert ours.headers["authorization"] == "Bearer sk-test"


def test_a_refusal_is_named_before_any_text_is_read(fake):
    fake.failures = [Failure(429, {"Retry-After": "7"}, "slow down"), Failure(400, message="bad model")]
    pieces: list[str] = []

    with pytest.raises(Unavailable) as busy:
        provider(fake).chat(REQUEST, timeout_s=20, on_text=pieces.append)
    with pytest.raises(NonRetryableError) as refused:
        provider(fake).chat(REQUEST, timeout_s=20, on_text=pieces.append)

    assert (str(busy.value), busy.value.retry_after_s) == ("fake answered 429: slow down", 7.0)
    assert str(refused.value) == "fake answered 400: bad model"
    assert pieces == []
