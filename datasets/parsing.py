"""Reading rows out of CSV, JSON Lines and JSON: every malformed row is reported with its line, none is dropped.

Nothing here touches the database; datasets/imports.py stores what these functions return,
all of it or nothing.
"""

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from engine import json_input

# The most problems one refusal lists; the count of all of them is given beside.
MAX_PROBLEMS = 100


@dataclass(frozen=True)
class Problem:
    """One malformed row: `line` in the file (1-based), or `index` in a list of JSON rows (0-based)."""

    message: str
    line: int | None = None
    index: int | None = None

    def where(self) -> str:
        return f"line {self.line}" if self.line is not None else f"rows[{self.index}]"

    def as_dict(self, field: str) -> dict[str, Any]:
        """`{path, message}` as the API's problems are, with the `line` of a file's row."""
        if self.index is not None:
            return {"path": f"{field}[{self.index}]", "message": self.message}
        return {"path": field, "line": self.line, "message": self.message}


@dataclass
class Parsed:
    """Rows with the line each came from (0 when not from a file), or the problems that refuse them."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0
    too_many_rows: bool = False
    size_bytes: int = 0

    def add(self, row: dict[str, Any], line: int, max_rows: int) -> None:
        if len(self.rows) >= max_rows:
            self.too_many_rows = True
            return
        self.rows.append(row)
        self.lines.append(line)
        # What the row takes as JSON, which is what the limit in bytes counts whatever the file's format.
        self.size_bytes += len(json.dumps(row, ensure_ascii=False).encode())

    def refuse(self, problem: Problem) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)


def decode(data: bytes) -> str:
    """UTF-8 text (a byte order mark dropped); a file in another encoding is refused at the first bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ValueError(f"the file is not UTF-8 text (line {line}: byte 0x{data[error.start]:02x})") from None


def _lines(text: str) -> Iterator[str]:
    return iter(io.StringIO(text, newline=""))


def parse_csv(text: str, max_rows: int) -> Parsed:
    """The first line names the columns; each later line gives one row of strings, keyed by those names.

    Blank lines are skipped. A row with more or fewer fields than the header, or quoting that does
    not close, is a problem at the line where the row starts.
    """
    parsed = Parsed()
    reader = csv.reader(_lines(text), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        parsed.refuse(Problem("the file is empty: the first line must name the columns", line=1))
        return parsed
    except csv.Error as error:
        parsed.refuse(Problem(f"the header is not valid CSV ({error})", line=1))
        return parsed
    names = [name.strip() for name in header]
    if header_problem := _header_problem(names):
        parsed.refuse(Problem(header_problem, line=1))
        return parsed
    start = reader.line_num + 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            parsed.refuse(Problem(f"not valid CSV ({error})", line=start))
            start = reader.line_num + 1
            continue
        if not fields:
            start = reader.line_num + 1
            continue
        if len(fields) != len(names):
            parsed.refuse(Problem(f"{len(fields)} fields where the header has {len(names)}", line=start))
        elif any("\x00" in value for value in fields):
            parsed.refuse(Problem("text cannot contain the NUL character", line=start))
        else:
            parsed.add(dict(zip(names, fields, strict=True)), start, max_rows)
        start = reader.line_num + 1
    return parsed


def _header_problem(names: list[str]) -> str | None:
    if any(not name for name in names):
        return f"column {names.index('') + 1} of the header has no name"
    if any("\x00" in name for name in names):
        return "the header cannot contain the NUL character"
    seen: set[str] = set()
    for name in names:
        if name in seen:
            return f"the header names the column {name!r} twice"
        seen.add(name)
    return None


def parse_jsonl(text: str, max_rows: int) -> Parsed:
    """One JSON object per line; blank lines are skipped."""
    parsed = Parsed()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json_input.parse_object(line)
        except json_input.JsonRefused as refused:
            parsed.refuse(Problem(str(refused), line=number))
        else:
            parsed.add(row, number, max_rows)
    return parsed


def parse_rows(rows: Iterable[Any], max_rows: int) -> Parsed:
    """Rows already parsed from JSON (an API body, earlier runs' inputs): each must be an object."""
    parsed = Parsed()
    for index, row in enumerate(rows):
        if isinstance(row, dict):
            parsed.add(row, 0, max_rows)
        else:
            parsed.refuse(Problem(f"must be a JSON object, not {_json_type(row)}", index=index))
    return parsed


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "an array"}.get(
        type(value), type(value).__name__
    )
