"""Any server speaking OpenAI's chat completions and embeddings API, through the official SDK.

The SDK's own retries are off (max_retries=0): the caller decides what to try again
(engine/providers/calls.py), so one retry policy and one bill per call hold everywhere.
429 (with its Retry-After), 408, 5xx, timeouts and refused connections are `Unavailable`
(retryable); any other 4xx is a NonRetryableError.
"""

import json
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from email.utils import parsedate_to_datetime
from typing import Any, NamedTuple

import httpx2
import openai
from openai.types import CompletionUsage

from engine.errors import NodeError, NonRetryableError
from engine.guarded_transport import guarded_client
from engine.providers import sse, structured, tokens
from engine.providers.base import ChatRequest, Completion, Exchange, OnText, ToolCall, Unavailable, message_text

KIND = "openai_compatible"
# How much of a server's error message a node error repeats.
REASON_CHARS = 160
# Servers that refused response_format=json_schema once, by (base URL, model): asked by prompt from then on.
_no_json_schema: set[tuple[str, str]] = set()
# One SDK client per configuration and thread. The SDK's connection pool matches every
# waiting request against every connection, under one lock, each time a request starts or
# ends: shared by a hundred threads with calls in flight, that work grew with the square of
# the calls and held most of them back for seconds (docs/benchmarks.md, "Model-call fan-out").
_clients = threading.local()


class Usage(NamedTuple):
    """The token counts a streamed answer's last chunk reports."""

    prompt_tokens: int
    completion_tokens: int


class OpenAICompatibleProvider:
    kind = KIND

    def __init__(
        self,
        name: str,
        base_url: str,
        api_key: str,
        headers: dict[str, str],
        timeout_s: float,
        allowlist: Sequence[str] = (),
    ) -> None:
        self.name = name
        self.label = name
        self.base_url = base_url
        self._allowlist = tuple(allowlist)
        self._client_key = (base_url, api_key, tuple(sorted(headers.items())), timeout_s, self._allowlist)
        self._api_key = api_key
        self._headers = headers
        self._timeout_s = timeout_s

    @property
    def client(self) -> openai.OpenAI:
        """This thread's client (and connection pool) for this configuration."""
        mine: dict[tuple[Any, ...], openai.OpenAI] = _clients.__dict__.setdefault("by_config", {})
        client = mine.get(self._client_key)
        if client is None:
            client = openai.OpenAI(
                base_url=self.base_url,
                api_key=self._api_key or "no-key",
                default_headers=self._headers,
                timeout=self._timeout_s,
                max_retries=0,
                # Every request passes the outbound guard; no redirects, no proxy variables.
                http_client=guarded_client(self._allowlist, self._timeout_s),
            )
            mine[self._client_key] = client
        return client

    def chat(self, request: ChatRequest, timeout_s: float, on_text: OnText | None = None) -> Completion:
        messages = [dict(message) for message in request.messages]
        if request.tools or request.tool_use:
            return self._with_tools(request, messages, timeout_s)
        if request.schema is None:
            exchange, text = self._complete(request, messages, None, timeout_s, on_text)
            return Completion(text=text, exchanges=[exchange])
        native = (self.base_url, request.model) not in _no_json_schema
        if not native:
            messages = _with_schema_instruction(messages, request.schema)
        try:
            exchange, text = self._complete(request, messages, request.schema if native else None, timeout_s)
        except NonRetryableError as error:
            if not (native and _refuses_json_schema(error)):
                raise
            _no_json_schema.add((self.base_url, request.model))
            native = False
            messages = _with_schema_instruction(messages, request.schema)
            exchange, text = self._complete(request, messages, None, timeout_s)
        exchanges = [exchange]
        try:
            return Completion(text=text, data=structured.parse(text, request.schema), exchanges=exchanges)
        except structured.SchemaMismatch as mismatch:
            repair = [
                *messages,
                {"role": "assistant", "content": text},
                {"role": "user", "content": f"That answer was invalid: {mismatch}. Reply again with only the JSON."},
            ]
            exchange, text = self._complete(request, repair, request.schema if native else None, timeout_s)
            exchanges.append(exchange)
        try:
            return Completion(text=text, data=structured.parse(text, request.schema), exchanges=exchanges)
        except structured.SchemaMismatch as mismatch:
            raise SchemaFailure(str(mismatch), exchanges) from None

    def _with_tools(self, request: ChatRequest, messages: list[dict[str, Any]], timeout_s: float) -> Completion:
        """One turn of a tool-using conversation: the answer's text and the calls it asks for (never streamed).

        An agent's answer schema is asked for in its instructions, not as response_format: a
        turn that calls tools has no final answer to shape. An agent with no tools sends none,
        but its answer's tool calls are still read: the agent answers them with an error.
        """
        options: dict[str, Any] = {"temperature": request.temperature}
        if request.tools:
            options["tools"] = [_function(t) for t in request.tools]
            if request.tool_choice:
                options["tool_choice"] = request.tool_choice
        if request.max_tokens:
            options["max_tokens"] = request.max_tokens
        started = time.monotonic()
        with _translated_errors(self.name):
            response = self.client.chat.completions.create(
                model=request.model,
                messages=messages,  # type: ignore[arg-type]
                timeout=min(timeout_s, self._timeout_s),
                **options,
            )
        latency_ms = int((time.monotonic() - started) * 1000)
        message = response.choices[0].message if response.choices else None
        text = (message.content or "") if message else ""
        calls = [
            ToolCall(id=call.id, name=call.function.name, arguments=call.function.arguments or "")
            for call in (message.tool_calls or [] if message else [])
            if call.type == "function"
        ]
        raw = json.dumps({"content": text, "tool_calls": [call.__dict__ for call in calls]}) if calls else text
        usage = response.usage
        tokens_in = usage.prompt_tokens if usage else tokens.count("\n".join(message_text(m) for m in messages))
        tokens_out = usage.completion_tokens if usage else tokens.count(raw)
        exchange = Exchange(tokens_in=tokens_in, tokens_out=tokens_out, latency_ms=latency_ms, raw=raw)
        return Completion(text=text, exchanges=[exchange], tool_calls=calls)

    def _complete(
        self,
        request: ChatRequest,
        messages: list[dict[str, str]],
        schema: dict[str, Any] | None,
        timeout_s: float,
        on_text: OnText | None = None,
    ) -> tuple[Exchange, str]:
        options: dict[str, Any] = {"temperature": request.temperature}
        if request.max_tokens:
            options["max_tokens"] = request.max_tokens
        if request.stop:
            options["stop"] = list(request.stop)
        if schema is not None:
            options["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": schema, "strict": False},
            }
        started = time.monotonic()
        usage: CompletionUsage | Usage | None
        if on_text is not None:
            text, usage = self._stream(request, messages, options, timeout_s, on_text)
        else:
            with _translated_errors(self.name):
                response = self.client.chat.completions.create(
                    model=request.model,
                    messages=messages,  # type: ignore[arg-type]
                    # A per-request timeout replaces the client's: without min() the provider's own would never apply.
                    timeout=min(timeout_s, self._timeout_s),
                    **options,
                )
            text = (response.choices[0].message.content or "") if response.choices else ""
            usage = response.usage
        latency_ms = int((time.monotonic() - started) * 1000)
        tokens_in = usage.prompt_tokens if usage else tokens.count("\n".join(m["content"] for m in messages))
        tokens_out = usage.completion_tokens if usage else tokens.count(text)
        return Exchange(tokens_in=tokens_in, tokens_out=tokens_out, latency_ms=latency_ms, raw=text), text

    def _stream(
        self,
        request: ChatRequest,
        messages: list[dict[str, str]],
        options: dict[str, Any],
        timeout_s: float,
        on_text: OnText,
    ) -> tuple[str, Usage | None]:
        """The answer as server-sent chunks, each piece handed to `on_text`; the usage comes in the last chunk.

        The SDK builds and sends the request and raises for an error status; the chunks are read
        from the body with the standard library, not as the SDK's models: a pydantic model per
        chunk was most of a streamed call's CPU (docs/benchmarks.md, "Model-call fan-out").
        """
        pieces: list[str] = []
        usage = None
        with _translated_errors(self.name), self._post_streamed(request.model, messages, options, timeout_s) as body:
            for data in sse.event_data(body):
                if data.startswith("[DONE]"):
                    break
                chunk = _chunk(self.name, data)
                usage = _usage(chunk.get("usage")) or usage
                if piece := _piece(chunk):
                    pieces.append(piece)
                    on_text(piece)
        return "".join(pieces), usage

    @contextmanager
    def _post_streamed(
        self, model: str, messages: list[dict[str, str]], options: dict[str, Any], timeout_s: float
    ) -> Iterator[Iterator[bytes]]:
        """The body of a streamed chat completion as it arrives, its request sent by the SDK's client.

        Sent with the client's `post` (the SDK's documented way to a raw response) rather than
        `chat.completions.create`, whose first step, fitting the parameters to the SDK's typed
        request (`maybe_transform`), cost about 0.5 ms of CPU per call, a tenth to a fifth of a
        streamed call's, to return a plain body like this one unchanged (docs/benchmarks.md,
        "Model-call fan-out"). The client still adds the key, its headers and the timeout, and
        raises its own errors for an error status before the body is read.
        """
        body = {
            "messages": messages,
            "model": model,
            "stream": True,
            "stream_options": {"include_usage": True},
            **options,
        }
        response = self.client.post(
            "/chat/completions",
            cast_to=httpx2.Response,
            body=body,
            options={"timeout": min(timeout_s, self._timeout_s)},
            stream=True,
            stream_cls=None,
        )
        try:
            yield response.iter_bytes()
        finally:
            response.close()

    def embed(self, model: str, texts: list[str], timeout_s: float) -> tuple[list[list[float]], int]:
        with _translated_errors(self.name):
            response = self.client.embeddings.create(model=model, input=texts, timeout=min(timeout_s, self._timeout_s))
        ordered = sorted(response.data, key=lambda item: item.index)
        used = response.usage.prompt_tokens if response.usage else tokens.count_all(texts)
        return [list(item.embedding) for item in ordered], used


class SchemaFailure(NodeError):
    """The answer was still not valid JSON for the schema after one repair; the calls it took are billed."""

    code = "schema_mismatch"

    def __init__(self, message: str, exchanges: list[Exchange]) -> None:
        super().__init__(f"The model's answer did not match the schema after a repair attempt: {message}")
        self.exchanges = exchanges


def _chunk(provider: str, data: str) -> dict[str, Any]:
    """One streamed chunk's JSON; an error event, or data that is no JSON object, is Unavailable."""
    try:
        chunk = json.loads(data)
    except ValueError:
        raise Unavailable(f"{provider} sent a streamed chunk that is not JSON") from None
    if not isinstance(chunk, dict):
        raise Unavailable(f"{provider} sent a streamed chunk that is not a JSON object")
    if error := chunk.get("error"):
        # The server failed after it began answering (the SDK raises APIError for the same event).
        message = error.get("message") if isinstance(error, dict) else None
        reason = message if isinstance(message, str) else "An error occurred during streaming"
        raise Unavailable(f"{provider} failed while streaming: {_reason_text(reason)}")
    return chunk


def _piece(chunk: dict[str, Any]) -> str | None:
    """The text a chunk adds to the answer: its first choice's delta content."""
    choices = chunk.get("choices")
    first = choices[0] if isinstance(choices, list) and choices else None
    delta = first.get("delta") if isinstance(first, dict) else None
    content = delta.get("content") if isinstance(delta, dict) else None
    return content if isinstance(content, str) else None


def _usage(value: Any) -> Usage | None:
    """A chunk's usage when it reports both counts as integers; otherwise the tokens are counted."""
    if not isinstance(value, dict):
        return None
    prompt, completion = value.get("prompt_tokens"), value.get("completion_tokens")
    if type(prompt) is int and type(completion) is int:
        return Usage(prompt, completion)
    return None


def _function(tool: dict[str, Any]) -> dict[str, Any]:
    return {"type": "function", "function": tool}


def _with_schema_instruction(messages: list[dict[str, str]], schema: dict[str, Any]) -> list[dict[str, str]]:
    instruction = f"Answer with only a JSON value valid against this JSON Schema:\n{json.dumps(schema)}"
    return [{"role": "system", "content": instruction}, *messages]


def _refuses_json_schema(error: NodeError) -> bool:
    return error.details.get("status") == 400 and "response_format" in str(error)


@contextmanager
def _translated_errors(provider: str) -> Iterator[None]:
    """The SDK's exceptions as the engine's: retryable `Unavailable`, or NonRetryableError."""
    try:
        yield
    except openai.APITimeoutError:
        raise Unavailable(f"{provider} did not answer in time") from None
    except openai.APIConnectionError as error:
        if isinstance(error.__cause__, NodeError):
            raise error.__cause__ from None  # the guard refused the destination, or the answer was too large
        raise Unavailable(f"{provider} could not be reached") from None
    # Raised while a streamed answer is read, after the SDK handed the response over.
    except httpx2.TimeoutException:
        raise Unavailable(f"{provider} did not answer in time") from None
    except httpx2.TransportError:
        raise Unavailable(f"{provider} stopped sending its answer") from None
    except openai.APIStatusError as error:
        status = error.status_code
        message = f"{provider} answered {status}: {_reason(error)}"
        if 300 <= status < 400:
            message = f"{provider} answered {status}, a redirect; redirects are not followed: set the final base URL"
        if status in {408, 429} or status >= 500:
            raise Unavailable(message, retry_after_s=retry_after(error.response.headers)) from None
        raise NonRetryableError(message, code="model_refused", status=status) from None
    except openai.APIError as error:
        # An error event in the middle of a streamed answer: the server failed after it began.
        raise Unavailable(f"{provider} failed while streaming: {_reason_text(error.message)}") from None


def _reason(error: openai.APIStatusError) -> str:
    """A short, printable reason: the server's own text could be anything an internal service returns."""
    body = error.body
    if isinstance(body, dict):
        detail = body.get("error", body)
        if isinstance(detail, dict) and isinstance(detail.get("message"), str):
            return _reason_text(detail["message"])
    return error.response.reason_phrase or "error"


def _reason_text(message: str) -> str:
    printable = "".join(c if c.isprintable() else " " for c in message)
    return " ".join(printable.split())[:REASON_CHARS] or "error"


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds the server asked us to wait: Retry-After-Ms, Retry-After in seconds or as an HTTP date."""
    if milliseconds := headers.get("retry-after-ms"):
        try:
            return max(0.0, float(milliseconds) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
