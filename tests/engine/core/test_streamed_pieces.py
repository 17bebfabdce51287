"""The built-in provider hands a plain answer out in pieces, as a remote model streams one."""

from engine.providers.base import ChatRequest, Passage
from engine.providers.builtin import BuiltinProvider

REQUEST = ChatRequest(
    model="builtin-extractive",
    messages=({"role": "user", "content": "Customer: Ana\nSubject: refund\nHow do refunds work?"},),
    passages=(Passage(text="Refunds reach your card within five days. Shipping is free.", title="Refunds"),),
)


def test_the_pieces_make_up_the_answer_it_returns():
    pieces: list[str] = []

    answer = BuiltinProvider().chat(REQUEST, timeout_s=1, on_text=pieces.append)

    assert len(pieces) > 5
    assert "".join(pieces) == answer.text
    assert answer.text.startswith("Hello Ana")


def test_a_structured_answer_is_not_streamed():
    pieces: list[str] = []
    schema = {"type": "object", "properties": {"refund": {"type": "string"}}}

    answer = BuiltinProvider().chat(
        ChatRequest(model="builtin-extractive", messages=REQUEST.messages, schema=schema),
        timeout_s=1,
        on_text=pieces.append,
    )

    assert pieces == []
    assert isinstance(answer.data, dict)
