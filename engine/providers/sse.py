"""Server-sent events (text/event-stream) read from an HTTP body's bytes: the data of each event."""

from collections.abc import Iterable, Iterator

LINE_ENDS = (b"\n", b"\r")


def event_data(chunks: Iterable[bytes]) -> Iterator[str]:
    """The data of each event, in order: its `data:` lines joined by newlines, as the HTML
    standard's event-stream interpretation gives it.

    Lines end at CR, LF or CRLF, also when a chunk boundary falls inside one; comments, other
    fields (event, id, retry) and events without data are skipped, and an event the body ends
    in the middle of is dropped, as a browser's EventSource drops it.
    """
    data: list[str] = []
    partial: list[bytes] = []  # the line being received, in pieces: joined once it is complete
    after_cr = False
    for chunk in chunks:
        if after_cr and chunk[:1] == b"\n":
            chunk = chunk[1:]  # the LF of a CRLF split across chunks
        if not chunk:
            continue
        after_cr = chunk[-1:] == b"\r"
        last_end = max(chunk.rfind(b"\n"), chunk.rfind(b"\r"))
        if last_end < 0:
            partial.append(chunk)
            continue
        complete = chunk[: last_end + 1]
        if partial:
            complete = b"".join([*partial, complete])
            partial.clear()
        if last_end + 1 < len(chunk):
            partial.append(chunk[last_end + 1 :])
        for line in complete.splitlines():
            if not line:
                if data:
                    yield "\n".join(data)
                    data = []
                continue
            field, _, value = line.partition(b":")
            if field == b"data":
                data.append((value[1:] if value[:1] == b" " else value).decode("utf-8", "replace"))
