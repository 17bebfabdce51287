"""Model calls in-process against the fake server: timeouts, a failed repair, the LLM cache, parameters."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine

from engine.models import CachedCompletion, CostEntry, RunEvent
from tests.engine.graphs import TRIGGER, chain, generate
from tests.engine.running import history, start, wait_for
from tests.engine.running import node as node_run
from tests.factories import ModelPriceFactory, ProviderConfigFactory
from tests.fake_openai import FakeOpenAI

REPLY_SCHEMA = {"type": "object", "properties": {"reply": {"type": "string"}}, "required": ["reply"]}


@pytest.fixture
def backup(workspace):
    """A second provider, "backup", on a server of its own that answers at once."""
    server = FakeOpenAI(tokens_in=10, tokens_out=5)
    server.default_answer = "from the backup"
    ProviderConfigFactory(workspace=workspace, name="backup", base_url=server.url)
    yield server
    server.close()


def test_it_falls_back_when_the_provider_does_not_answer_within_its_own_timeout(
    workspace, provider, price, fake, backup
):
    provider.timeout_s = 1
    provider.save(update_fields=["timeout_s"])
    fake.latency_s = 2.5  # well within the node's 300 s, but over the provider's 1 s

    data = chain(TRIGGER, generate(fallbacks=[{"provider": "backup", "model": "gpt-backup"}]))
    run = wait_for(start(workspace, data, {"body": "hi"}))

    assert run.status == "succeeded", node_run(run, "draft").error
    drafted = node_run(run, "draft")
    assert (drafted.output["text"], drafted.output["provider"]) == ("from the backup", "backup")
    assert history(run, "draft") == ["pending", "running", "succeeded"]
    asked = fake.chat_requests()
    assert len(asked) == 2  # tried twice, as an unavailable provider is, before falling back
    assert asked[1].at - asked[0].at < 2.5  # the first try was given up, not waited out
    assert len(backup.chat_requests()) == 1
    assert list(CostEntry.objects.filter(run=run).values_list("provider", flat=True)) == ["backup"]


def test_it_retries_the_node_when_the_model_answers_after_the_node_timeout(workspace, provider, price, fake):
    fake.delays = [4.0]
    retry = {"max_attempts": 2, "initial_delay_s": 0.1, "jitter": 0}

    run = wait_for(start(workspace, chain(TRIGGER, generate(retry=retry, timeout_s=2)), {"body": "hi"}))

    assert run.status == "succeeded", node_run(run, "draft").error
    assert history(run, "draft") == ["pending", "running", "failed", "running", "succeeded"]
    failed = RunEvent.objects.get(run=run, node_id="draft", type="node.failed")
    # The runner's deadline (timeout) and the call's own (model_unavailable) expire together: both are retryable.
    assert failed.payload["code"] in {"timeout", "model_unavailable"}
    assert failed.payload["retry_at"] is not None
    assert node_run(run, "draft").output["text"] == fake.default_answer
    assert list(CostEntry.objects.filter(run=run).values_list("attempt", flat=True)) == [2]


def test_it_fails_with_schema_mismatch_and_bills_both_calls_when_the_repair_is_off_schema_too(
    workspace, provider, price, fake
):
    fake.answers = ['{"reply": 42}', '{"reply": ["still", "not", "text"]}']

    run = wait_for(start(workspace, chain(TRIGGER, generate(output_schema=REPLY_SCHEMA)), {"body": "hi"}))

    assert run.status == "failed"
    drafted = node_run(run, "draft")
    assert drafted.error["code"] == "schema_mismatch"
    assert "after a repair attempt" in drafted.error["message"]
    assert len(fake.chat_requests()) == 2
    billed = CostEntry.objects.filter(run=run).order_by("call")
    assert [(entry.attempt, entry.call, entry.cost, entry.cached) for entry in billed] == [
        (1, 0, Decimal("0.007500"), False),
        (1, 1, Decimal("0.007500"), False),
    ]
    run.refresh_from_db()
    drafted.refresh_from_db()
    assert run.cost == drafted.cost == Decimal("0.015000")


@pytest.mark.parametrize(
    ("field", "changed", "body"),
    [
        ("model", {"model": "gpt-other"}, "same question"),
        ("temperature", {"temperature": 0.7}, "same question"),
        ("messages", {}, "another question"),
    ],
    ids=["model", "temperature", "messages"],
)
def test_it_asks_the_server_again_when_the_model_temperature_or_messages_differ(
    workspace, provider, price, fake, field, changed, body
):
    ModelPriceFactory(model="gpt-other")
    first = wait_for(start(workspace, chain(TRIGGER, generate(cache_ttl_s=600)), {"body": "same question"}))
    second = wait_for(start(workspace, chain(TRIGGER, generate(cache_ttl_s=600, **changed)), {"body": body}))

    assert (first.status, second.status) == ("succeeded", "succeeded")
    asked = fake.chat_requests()
    assert len(asked) == 2
    assert asked[0].body[field] != asked[1].body[field]
    missed = CostEntry.objects.get(run=second)
    assert (missed.cached, missed.cost) == (False, Decimal("0.007500"))
    assert node_run(second, "draft").output["cached"] is False
    assert CachedCompletion.objects.filter(workspace=workspace).count() == 2


def test_it_asks_the_server_again_once_the_cached_answer_expired(workspace, provider, price, fake):
    data = chain(TRIGGER, generate(cache_ttl_s=1))
    first = wait_for(start(workspace, data, {"body": "same question"}))
    stored = CachedCompletion.objects.get(workspace=workspace)

    # In-process the engine reads this process's clock: a second past the expiry, not a wait for it.
    with time_machine.travel(stored.expires_at + timedelta(seconds=1)):
        second = wait_for(start(workspace, data, {"body": "same question"}))

    assert (first.status, second.status) == ("succeeded", "succeeded")
    assert len(fake.chat_requests()) == 2
    missed = CostEntry.objects.get(run=second)
    assert (missed.cached, missed.cost) == (False, Decimal("0.007500"))
    assert CachedCompletion.objects.get(workspace=workspace).expires_at > stored.expires_at


def test_it_caches_nothing_when_the_ttl_is_zero(workspace, provider, price, fake):
    data = chain(TRIGGER, generate(cache_ttl_s=0))

    runs = [wait_for(start(workspace, data, {"body": "same question"})) for _ in range(2)]

    assert [run.status for run in runs] == ["succeeded", "succeeded"]
    assert len(fake.chat_requests()) == 2
    assert list(CostEntry.objects.filter(run__in=runs).values_list("cached", "cost")) == [
        (False, Decimal("0.007500")),
        (False, Decimal("0.007500")),
    ]
    assert not CachedCompletion.objects.exists()


def test_it_sends_the_system_prompt_temperature_max_tokens_and_stop_of_a_generate_node(
    workspace, provider, price, fake
):
    draft = generate(
        system="You answer {{ input.customer }} in one short paragraph.",
        temperature=0.4,
        max_tokens=64,
        stop=["\n\nCustomer:", "END"],
    )

    run = wait_for(start(workspace, chain(TRIGGER, draft), {"customer": "Ann", "body": "Where is my parcel?"}))

    assert run.status == "succeeded", node_run(run, "draft").error
    [sent] = fake.chat_requests()
    assert sent.body["model"] == "gpt-test"
    assert sent.body["messages"] == [
        {"role": "system", "content": "You answer Ann in one short paragraph."},
        {"role": "user", "content": "Reply to: Where is my parcel?"},
    ]
    assert (sent.body["temperature"], sent.body["max_tokens"], sent.body["stop"]) == (0.4, 64, ["\n\nCustomer:", "END"])
    assert "response_format" not in sent.body
