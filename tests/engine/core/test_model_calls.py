"""AI nodes against a fake OpenAI-compatible server, in-process: retries, repair, fallback, billing, cache."""

import json
from decimal import Decimal

from engine.models import CostEntry
from tests.engine.graphs import TRIGGER, chain, generate, node
from tests.engine.running import history, start, wait_for
from tests.engine.running import node as node_run
from tests.eventually import eventually
from tests.factories import ProviderConfigFactory
from tests.fake_openai import Failure, FakeOpenAI


def test_it_bills_one_exact_cost_row_for_known_token_counts(workspace, provider, price, fake):
    run = wait_for(start(workspace, chain(TRIGGER, generate()), {"body": "Where is my parcel?"}))

    assert run.status == "succeeded", node_run(run, "draft").error
    entry = CostEntry.objects.get(run=run)
    assert (entry.tokens_in, entry.tokens_out, entry.cost, entry.cached) == (1000, 500, Decimal("0.007500"), False)
    assert (entry.provider, entry.model, entry.attempt, entry.call) == ("fake", "gpt-test", 1, 0)
    run.refresh_from_db()
    assert run.cost == Decimal("0.007500")
    drafted = node_run(run, "draft")
    assert drafted.cost == Decimal("0.007500")
    assert drafted.output["text"] == fake.default_answer
    call = drafted.usage["calls"][0]
    assert call["prompt"][-1]["content"] == "Reply to: Where is my parcel?"
    assert call["response"] == fake.default_answer
    assert (call["tokens_in"], call["tokens_out"], call["cost"], call["cached"]) == (1000, 500, "0.007500", False)
    assert call["latency_ms"] >= 0
    assert fake.chat_requests()[0].headers["authorization"] == "Bearer sk-test"


def test_it_waits_as_retry_after_asks_before_trying_again(workspace, provider, price, fake):
    fake.failures.append(Failure(429, {"Retry-After": "1"}, "slow down"))

    run = wait_for(start(workspace, chain(TRIGGER, generate()), {"body": "hi"}))

    assert run.status == "succeeded"
    first, second = fake.chat_requests()
    assert second.at - first.at >= 1.0
    assert history(run, "draft") == ["pending", "running", "succeeded"]
    assert CostEntry.objects.filter(run=run).count() == 1


def test_it_schedules_the_next_attempt_after_a_retry_after_too_long_to_wait_in_one(workspace, provider, price, fake):
    fake.failures.append(Failure(429, {"Retry-After": "300"}, "slow down"))
    retry = {"max_attempts": 2, "initial_delay_s": 0.1, "jitter": 0}

    run = start(workspace, chain(TRIGGER, generate(retry=retry)), {"body": "hi"})

    drafted = eventually(lambda: found if (found := node_run(run, "draft")).status == "failed" else None)
    assert drafted.status == "failed"
    assert drafted.error["code"] == "model_unavailable"
    assert drafted.wake_at is not None
    assert drafted.finished_at is not None
    assert (drafted.wake_at - drafted.finished_at).total_seconds() >= 300
    assert len(fake.chat_requests()) == 1


def test_it_repairs_an_answer_that_is_off_schema_once(workspace, provider, price, fake):
    fake.answers = ['{"reply": 42}', '{"reply": "Your parcel ships today."}']
    schema = {"type": "object", "properties": {"reply": {"type": "string"}}, "required": ["reply"]}

    run = wait_for(start(workspace, chain(TRIGGER, generate(output_schema=schema)), {"body": "hi"}))

    assert run.status == "succeeded", node_run(run, "draft").error
    assert node_run(run, "draft").output["data"] == {"reply": "Your parcel ships today."}
    repair = fake.chat_requests()[1].body["messages"]
    assert repair[-2] == {"role": "assistant", "content": '{"reply": 42}'}
    assert "reply: 42 is not of type 'string'" in repair[-1]["content"]
    assert list(CostEntry.objects.filter(run=run).order_by("call").values_list("call", flat=True)) == [0, 1]


def test_it_asks_for_json_in_the_prompt_when_the_server_refuses_json_schema(workspace, provider, price, fake):
    fake.json_schema_supported = False
    fake.answers = ['{"reply": "ok"}']
    schema = {"type": "object", "properties": {"reply": {"type": "string"}}, "required": ["reply"]}

    run = wait_for(start(workspace, chain(TRIGGER, generate(output_schema=schema, model="gpt-plain")), {}))

    assert run.status == "succeeded", node_run(run, "draft").error
    assert node_run(run, "draft").output["data"] == {"reply": "ok"}
    refused, asked = fake.chat_requests()
    assert "response_format" in refused.body
    assert "response_format" not in asked.body
    assert "JSON Schema" in asked.body["messages"][0]["content"]


def test_it_falls_back_to_the_next_provider_when_one_stays_unavailable(workspace, provider, price, fake):
    backup = FakeOpenAI(tokens_in=10, tokens_out=5)
    backup.default_answer = "from the backup"
    ProviderConfigFactory(workspace=workspace, name="backup", base_url=backup.url)
    fake.failures = [Failure(500), Failure(503)]
    try:
        data = chain(TRIGGER, generate(fallbacks=[{"provider": "backup", "model": "gpt-backup"}]))
        run = wait_for(start(workspace, data, {"body": "hi"}))
    finally:
        backup.close()

    assert run.status == "succeeded", node_run(run, "draft").error
    drafted = node_run(run, "draft")
    assert (drafted.output["text"], drafted.output["provider"], drafted.output["model"]) == (
        "from the backup",
        "backup",
        "gpt-backup",
    )
    assert len(fake.chat_requests()) == 2
    assert list(CostEntry.objects.filter(run=run).values_list("provider", "model")) == [("backup", "gpt-backup")]


def test_it_does_not_retry_a_client_error(workspace, provider, price, fake):
    fake.failures = [Failure(401, message="bad key")]
    retry = {"max_attempts": 3, "initial_delay_s": 0.1, "jitter": 0}

    run = wait_for(start(workspace, chain(TRIGGER, generate(retry=retry)), {}))

    assert run.status == "failed"
    drafted = node_run(run, "draft")
    assert drafted.attempt == 1
    assert drafted.error["code"] == "model_refused"
    assert "fake answered 401: bad key" in drafted.error["message"]
    assert len(fake.chat_requests()) == 1


def test_it_retries_the_node_when_the_model_stays_unavailable(workspace, provider, price, fake):
    fake.failures = [Failure(500), Failure(500)]
    retry = {"max_attempts": 2, "initial_delay_s": 0.1, "jitter": 0}

    run = wait_for(start(workspace, chain(TRIGGER, generate(retry=retry)), {}))

    assert run.status == "succeeded"
    assert history(run, "draft") == ["pending", "running", "failed", "running", "succeeded"]
    assert list(CostEntry.objects.filter(run=run).values_list("attempt", "call")) == [(2, 0)]


def test_it_answers_from_the_cache_at_no_cost(workspace, provider, price, fake):
    data = chain(TRIGGER, generate(cache_ttl_s=600))

    first = wait_for(start(workspace, data, {"body": "same question"}))
    second = wait_for(start(workspace, data, {"body": "same question"}))

    assert len(fake.chat_requests()) == 1
    billed = CostEntry.objects.get(run=first)
    cached = CostEntry.objects.get(run=second)
    assert (billed.cost, billed.cached) == (Decimal("0.007500"), False)
    assert (cached.cost, cached.cached, cached.saved, cached.tokens_in) == (Decimal(0), True, Decimal("0.007500"), 1000)
    second.refresh_from_db()
    assert second.cost == 0
    assert node_run(second, "draft").output["cached"] is True
    assert node_run(second, "draft").usage["calls"][0]["cached"] is True


def test_it_keeps_the_json_answer_of_a_classify_node(workspace, provider, price, fake):
    fake.answers = [json.dumps({"label": "shipping", "confidence": 0.9, "scores": {"billing": 0.1}})]
    labels = [{"name": "billing", "description": "money"}, {"name": "shipping", "description": "parcels"}]
    data = chain(
        TRIGGER, node("sort", "classify", provider="fake", model="gpt-test", text="{{ input.body }}", labels=labels)
    )

    run = wait_for(start(workspace, data, {"body": "Where is my parcel?"}))

    assert run.status == "succeeded", node_run(run, "sort").error
    assert node_run(run, "sort").output["label"] == "shipping"
    assert node_run(run, "sort").output["scores"] == {"billing": 0.1, "shipping": 0.9}
    sent = fake.chat_requests()[0].body
    assert sent["response_format"]["json_schema"]["schema"]["properties"]["label"] == {"enum": ["billing", "shipping"]}


def test_an_answer_cut_off_mid_stream_is_asked_again_and_billed_once(workspace, provider, price, fake):
    fake.answers = ["Your parcel ships today.", "Your parcel ships today."]
    fake.cuts = [2]

    run = wait_for(start(workspace, chain(TRIGGER, generate()), {"body": "Where is my parcel?"}))

    assert run.status == "succeeded", node_run(run, "draft").error
    assert node_run(run, "draft").output["text"] == "Your parcel ships today."
    assert [seen.body["stream"] for seen in fake.chat_requests()] == [True, True]
    entry = CostEntry.objects.get(run=run)
    assert (entry.tokens_in, entry.tokens_out, entry.call) == (1000, 500, 0)
