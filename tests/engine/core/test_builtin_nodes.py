"""The AI nodes on the built-in offline provider, in-process."""

from decimal import Decimal

import pytest

from engine.models import CostEntry
from tests.engine.graphs import TRIGGER, chain, edge, graph, node
from tests.engine.running import node as node_run
from tests.engine.running import start, wait_for
from tests.factories import ModelPriceFactory

PASSAGES = [
    {
        "text": "Refunds are paid within 5 days. Our office is in Paris.",
        "score": 0.8,
        "title": "Refunds",
        "source": "kb/refunds.md",
    },
    {
        "text": "Damaged items can be returned free of charge.",
        "score": 0.6,
        "title": "Returns",
        "source": "kb/returns.md",
    },
]


def test_it_drafts_from_the_passages_and_cites_them(workspace):
    draft = node(
        "draft",
        "generate",
        prompt="Customer: Ann\nSubject: Broken mug\n\n{{ input.body }}",
        passages="{{ input.passages }}",
    )

    run = wait_for(
        start(
            workspace,
            chain(TRIGGER, draft),
            {"body": "My mug is damaged, when is my refund paid?", "passages": PASSAGES},
        )
    )

    assert run.status == "succeeded", node_run(run, "draft").error
    text = node_run(run, "draft").output["text"]
    assert text.startswith("Hello Ann, thank you for contacting us about \u201cBroken mug\u201d.")
    assert "Refunds are paid within 5 days. [1]" in text
    assert "Damaged items can be returned free of charge. [2]" in text
    assert "Paris" not in text
    assert text.endswith("Sources:\n[1] Refunds (kb/refunds.md)\n[2] Returns (kb/returns.md)")
    entry = CostEntry.objects.get(run=run)
    assert (entry.provider, entry.model, entry.cost) == ("builtin", "builtin-extractive", 0)
    assert entry.tokens_in > 0
    assert entry.tokens_out > 0


def test_it_cites_two_chunks_of_one_article_as_one_source(workspace):
    refunds = PASSAGES[0]
    chunks = [refunds, PASSAGES[1], {**refunds, "text": "Refunds go back to the card you paid with.", "score": 0.9}]
    draft = node("draft", "generate", prompt="Subject: Refund\n\n{{ input.body }}", passages="{{ input.passages }}")

    run = wait_for(start(workspace, chain(TRIGGER, draft), {"body": "When is my refund paid?", "passages": chunks}))

    assert run.status == "succeeded", node_run(run, "draft").error
    output = node_run(run, "draft").output
    assert [(source["number"], source["title"]) for source in output["sources"]] == [(1, "Refunds"), (2, "Returns")]
    assert "Refunds are paid within 5 days. [1]" in output["text"]
    assert "Refunds go back to the card you paid with. [1]" in output["text"]
    assert output["text"].count("Refunds (kb/refunds.md)") == 1


def test_it_extracts_fields_offline(workspace):
    fields = {
        "type": "object",
        "properties": {
            "order_id": {"type": "integer"},
            "email": {"type": "string"},
            "mood": {"enum": ["angry", "happy"]},
        },
    }
    body = "Order ID: 1042\nI am furious and angry! Write to ann@example.com"

    run = wait_for(
        start(
            workspace, chain(TRIGGER, node("read", "extract", text="{{ input.body }}", fields=fields)), {"body": body}
        )
    )

    assert run.status == "succeeded", node_run(run, "read").error
    assert node_run(run, "read").output["fields"] == {"order_id": 1042, "email": "ann@example.com", "mood": "angry"}


@pytest.mark.parametrize(
    ("confidence", "category", "handle", "reasons"),
    [
        (0.9, "billing", "pass", ["all checks passed"]),
        (0.3, "billing", "fail", ["score 0.30 is below the threshold 0.50"]),
        (0.9, "refund", "fail", ["category: 'refund' is in ['refund']"]),
    ],
)
def test_it_passes_only_confident_answers_that_keep_the_rules(workspace, confidence, category, handle, reasons):
    check = node(
        "check",
        "confidence_check",
        classifier_confidence="{{ input.confidence }}",
        threshold=0.5,
        rules=[{"name": "category", "value": "{{ input.category }}", "op": "not_in", "values": ["refund"]}],
    )
    data = graph(
        TRIGGER,
        check,
        node("yes", "transform", fields={"ok": True}),
        node("no", "transform", fields={"ok": False}),
        edges=[edge("start", "check"), edge("check", "yes", "pass"), edge("check", "no", "fail")],
    )

    run = wait_for(start(workspace, data, {"confidence": confidence, "category": category}))

    checked = node_run(run, "check")
    assert (checked.handle, checked.output["reasons"]) == (handle, reasons)
    assert node_run(run, "yes" if handle == "pass" else "no").status == "succeeded"


def test_it_gives_every_label_over_the_threshold_with_multi_label(workspace):
    labels = [
        {"name": "billing", "description": "invoice charge payment", "examples": ["I was charged twice"]},
        {"name": "shipping", "description": "parcel delivery tracking", "examples": ["my parcel is late"]},
        {"name": "account", "description": "login password", "examples": ["I cannot log in"]},
    ]
    sort = node("sort", "classify", text="{{ input.body }}", labels=labels, multi_label=True, threshold=0.3)

    run = wait_for(start(workspace, chain(TRIGGER, sort), {"body": "I was charged twice and my parcel is late"}))

    output = node_run(run, "sort").output
    assert sorted(output["labels"]) == ["billing", "shipping"]
    assert output["label"] in {"billing", "shipping"}
    assert output["scores"]["account"] == 0


def test_it_counts_tokens_with_o200k_and_bills_them_once_a_price_is_set(workspace):
    # $0.10 per input token and $0.50 per output token: the cost shows the counts exactly.
    ModelPriceFactory(
        provider_kind="builtin", model="builtin-extractive", input_per_million=100_000, output_per_million=500_000
    )
    draft = node("draft", "generate", prompt="hello world", max_tokens=3)

    run = wait_for(start(workspace, chain(TRIGGER, draft)))

    assert run.status == "succeeded", node_run(run, "draft").error
    entry = CostEntry.objects.get(run=run)
    # o200k_base: "hello world" is two tokens; the answer is cut to max_tokens.
    assert (entry.tokens_in, entry.tokens_out) == (2, 3)
    assert entry.cost == Decimal("1.7")
    assert run.cost == entry.cost
