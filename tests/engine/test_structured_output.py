"""Reading a model's answer: JSON against a schema, and how long a server asked us to wait."""

import time
from email.utils import formatdate

import pytest

from engine.providers import structured
from engine.providers.openai_compatible import retry_after

SCHEMA = {"type": "object", "properties": {"reply": {"type": "string"}}, "required": ["reply"]}


def test_it_accepts_json_in_a_fenced_block():
    assert structured.parse('```json\n{"reply": "hi"}\n```', SCHEMA) == {"reply": "hi"}


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ("Sure! Here it is", "the answer is not usable JSON (not JSON"),
        ('{"answer": "hi"}', "at (root): 'reply' is a required property"),
        ('{"reply": 1}', "at reply: 1 is not of type 'string'"),
    ],
)
def test_it_says_where_an_answer_is_off_schema(answer, message):
    with pytest.raises(structured.SchemaMismatch, match=message.replace("(", r"\(").replace(")", r"\)")):
        structured.parse(answer, SCHEMA)


def test_it_reads_retry_after_in_seconds_milliseconds_or_as_a_date():
    assert retry_after({"retry-after": "3"}) == 3.0
    assert retry_after({"retry-after-ms": "250", "retry-after": "3"}) == 0.25
    assert 8 < retry_after({"retry-after": formatdate(time.time() + 10, usegmt=True)}) <= 10
    assert retry_after({}) is None
    assert retry_after({"retry-after": "soon"}) is None
