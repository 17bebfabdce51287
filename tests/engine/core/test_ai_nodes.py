"""AI nodes through the fake server, in-process: self-rating and extraction with a remote model."""

from decimal import Decimal
from typing import Any

import pytest

from engine.models import CostEntry
from tests.engine.graphs import TRIGGER, chain, edge, graph, node
from tests.engine.running import node as node_run
from tests.engine.running import start, wait_for


def checked(retrieval_score: float) -> dict[str, Any]:
    """A confidence check on the top retrieval score and the fake model's rating of the draft, then pass or fail."""
    check = node(
        "check",
        "confidence_check",
        retrieval_score="{{ input.score }}",
        min_retrieval_score=0.5,
        threshold=0.7,
        self_rating={
            "provider": "fake",
            "model": "gpt-test",
            "draft": "{{ input.draft }}",
            "request": "{{ input.body }}",
        },
    )
    return graph(
        TRIGGER,
        check,
        node("send", "transform", fields={"sent": True}),
        node("review", "transform", fields={"sent": False}),
        edges=[edge("start", "check"), edge("check", "send", "pass"), edge("check", "review", "fail")],
    )


@pytest.mark.parametrize(
    ("retrieval_score", "handle", "score", "reasons"),
    [
        (0.8, "pass", 0.85, ["all checks passed"]),
        (
            0.3,
            "fail",
            0.6,
            ["retrieval_score 0.30 is below 0.50", "score 0.60 is below the threshold 0.70"],
        ),
    ],
    ids=["above", "below"],
)
def test_it_weighs_the_models_self_rating_with_the_top_retrieval_score(
    workspace, provider, price, fake, retrieval_score, handle, score, reasons
):
    fake.answers = ['{"rating": 0.9}']
    given = {"score": retrieval_score, "draft": "It ships today.", "body": "Where is my parcel?"}

    run = wait_for(start(workspace, checked(retrieval_score), given))

    assert run.status == "succeeded", node_run(run, "check").error
    check = node_run(run, "check")
    assert check.handle == handle
    assert check.output["score"] == pytest.approx(score)
    assert check.output["reasons"] == reasons
    assert check.output["passed"] is (handle == "pass")
    assert check.output["signals"] == {"retrieval_score": retrieval_score, "self_rating": 0.9}
    taken, skipped = ("send", "review") if handle == "pass" else ("review", "send")
    assert (node_run(run, taken).status, node_run(run, skipped).status) == ("succeeded", "skipped")
    [asked] = fake.chat_requests()
    assert asked.body["messages"][-1]["content"] == "Request:\nWhere is my parcel?\n\nDraft:\nIt ships today."
    assert asked.body["response_format"]["json_schema"]["schema"]["required"] == ["rating"]
    entry = CostEntry.objects.get(run=run)
    assert (entry.node_type, entry.cost) == ("confidence_check", Decimal("0.007500"))
    assert check.usage["calls"][0]["response"] == '{"rating": 0.9}'


def test_it_extracts_fields_with_a_json_schema_from_a_remote_model(workspace, provider, price, fake):
    fields = {
        "type": "object",
        "properties": {"order_id": {"type": "integer"}, "email": {"type": "string"}},
        "required": ["order_id", "email"],
    }
    fake.answers = ['{"order_id": 1042, "email": "ann@example.com"}']
    read = node(
        "read",
        "extract",
        provider="fake",
        model="gpt-test",
        text="{{ input.body }}",
        fields=fields,
        instructions="Ignore the signature.",
    )
    body = "Hello, my order 1042 has not arrived. Write to ann@example.com\n-- Ann, sent from my phone"

    run = wait_for(start(workspace, chain(TRIGGER, read), {"body": body}))

    assert run.status == "succeeded", node_run(run, "read").error
    output = node_run(run, "read").output
    assert (output["fields"], output["provider"], output["model"]) == (
        {"order_id": 1042, "email": "ann@example.com"},
        "fake",
        "gpt-test",
    )
    [asked] = fake.chat_requests()
    assert asked.body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": fields, "strict": False},
    }
    system, user = asked.body["messages"]
    assert system["role"] == "system"
    assert "Ignore the signature." in system["content"]
    assert user == {"role": "user", "content": body}
    assert CostEntry.objects.get(run=run).node_type == "extract"
