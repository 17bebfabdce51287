import json

import pytest

from engine import json_input

DEEP = 100_000


@pytest.mark.parametrize(
    "text",
    [
        "[" * DEEP + "]" * DEEP,
        '{"a":' * DEEP + "1" + "}" * DEEP,
        "[" * DEEP,  # unterminated as well: refused for its depth before the parser recurses
    ],
)
def test_it_refuses_json_nested_past_the_limit_without_recursing(text):
    with pytest.raises(json_input.JsonRefused, match="nested deeper than 64 levels"):
        json_input.parse(text)


def test_it_takes_json_nested_up_to_the_limit_and_ignores_brackets_inside_strings():
    at_limit = "[" * 64 + "]" * 64
    assert json_input.nesting(at_limit) == 64
    assert json_input.parse(at_limit) is not None
    brackets_in_text = json.dumps({"note": "[[[{{{" * 1000, "escaped": '\\"[[[' * 100})
    assert json_input.parse(brackets_in_text)["note"].startswith("[[[{{{")
    with pytest.raises(json_input.JsonRefused):
        json_input.parse("[" * 65 + "]" * 65)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{not json", "not JSON: Expecting property name enclosed in double quotes at line 1 column 2"),
        (b"\xff\xfe\xff", "not JSON"),
        ('{"score": NaN}', "NaN is not a JSON number"),
        ("[Infinity]", "Infinity is not a JSON number"),
        ('{"a": {"b": ["ok", "x\\u0000y"]}}', "a.b[1]: text cannot contain the NUL character"),
        ("[" + "9" * 5000 + "]", "not JSON: Exceeds the limit"),
    ],
)
def test_it_names_what_is_wrong(raw, message):
    with pytest.raises(json_input.JsonRefused, match=message.replace("[", r"\[").replace("(", r"\(")):
        json_input.parse(raw)


def test_it_reads_utf8_and_utf16_bytes_and_objects_only_when_asked():
    assert json_input.parse('{"name": "Zoë"}'.encode()) == {"name": "Zoë"}
    assert json_input.parse('{"name": "Zoë"}'.encode("utf-16")) == {"name": "Zoë"}
    assert json_input.parse(b'"\\\\u0000 is fine escaped"') == "\\u0000 is fine escaped"
    with pytest.raises(json_input.JsonRefused, match="must be a JSON object"):
        json_input.parse_object("[1, 2]")
