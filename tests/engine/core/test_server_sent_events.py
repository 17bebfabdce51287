"""Server-sent events split from a body's bytes however the network cut them (engine.providers.sse)."""

from engine.providers.sse import event_data


def test_it_yields_each_events_data_in_order():
    body = [b'data: {"n": 1}\n\ndata: {"n": 2}\n\n', b"data: [DONE]\n\n"]

    assert list(event_data(body)) == ['{"n": 1}', '{"n": 2}', "[DONE]"]


def test_it_joins_lines_and_events_split_across_chunks():
    body = [b"da", b'ta: {"te', b'xt": "caf\xc3', b'\xa9"}', b"\n", b"\n", b"data: [DONE]\n\n"]

    assert list(event_data(body)) == ['{"text": "café"}', "[DONE]"]


def test_it_takes_crlf_cr_and_lf_as_line_ends_even_when_a_crlf_is_split():
    body = [b"data: a\r", b"\n\r\n", b"data: b\r\rdata: c\n", b"\n"]

    assert list(event_data(body)) == ["a", "b", "c"]


def test_it_joins_the_data_lines_of_one_event_with_newlines():
    assert list(event_data([b"data: first\ndata:second\ndata\n\n"])) == ["first\nsecond\n"]


def test_it_skips_comments_other_fields_and_events_without_data():
    body = [b": keep-alive\n\nevent: ping\nid: 7\nretry: 10\n\nevent: chunk\ndata: x\n\n"]

    assert list(event_data(body)) == ["x"]


def test_it_drops_an_event_the_body_ends_in_the_middle_of():
    assert list(event_data([b"data: whole\n\ndata: half"])) == ["whole"]
    assert list(event_data([b"data: whole\n\ndata: no blank line\n"])) == ["whole"]
