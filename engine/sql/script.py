"""Running the engine's SQL: named parameters, several statements in one round trip, each prepared once.

Every node passes through these statements a few times. Through the ORM, building and
compiling each statement cost several times what the database spends running it, and the run
row stays locked meanwhile (docs/benchmarks.md). Values are prepared by the models' own fields
(`get_db_prep_save`), so what is stored is exactly what the ORM would store. The SQL is
written for PostgreSQL and SQLite (the embedded mode) alike.

A transition holds its run's lock from its first statement to COMMIT, and every transition
of the run waits for it. So on PostgreSQL the statements of a transition go as two scripts
(`run_script`): the lock with the reads it needs, then the writes with COMMIT. The lock is
held for one client round trip, not one per statement. Each statement is a server-side
prepared statement of the connection that runs it (`EXECUTE`), planned once per connection
rather than at every run: planning the claim's and the outcome's statements took longer than
running them.
"""

from __future__ import annotations

import functools
import hashlib
import re
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, TypeVar, cast

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model
from psycopg import abc, adapt
from psycopg.pq import ExecStatus, TransactionStatus
from psycopg.types.json import Jsonb

M = TypeVar("M", bound=Model)

# SQL with `%(name)s` parameters, and their values by name.
Statement = tuple[str, Mapping[str, Any]]

_NAMED = re.compile(r"%\((\w+)\)s")


@dataclass
class Outcome:
    """What one statement of a script gave: its rows (empty for a write without RETURNING) and rowcount."""

    rows: list[tuple[Any, ...]]
    rowcount: int


def run_script(statements: Sequence[Statement], *, commit: bool = False) -> list[Outcome]:
    """Run `statements` in order and give each one's outcome.

    On PostgreSQL they go as one query string (the simple query protocol runs each statement
    with its own snapshot, as separate calls would), so a script costs one round trip; with
    `commit`, COMMIT ends the string and the transaction ends with it. Elsewhere they run one
    by one and `commit` is left to the caller's transaction.
    """
    outcomes = []
    db = _this_thread()
    with db.cursor() as cursor:
        if db.vendor != "postgresql":
            for sql, params in statements:
                cursor.execute(*positional(sql, params))
                outcomes.append(_outcome(cursor))
            return outcomes
        # psycopg's own cursor, for what follows the execute: Django's wrapper finds each of its attributes
        # again, and wraps each call of nextset and fetchall to translate errors, which come from execute.
        results = cursor.cursor
        raw = results.connection
        # The values go into the text here, as psycopg's client-side binding would put them, rather than as
        # parameters: psycopg parses a query's placeholders again on every call once it has more than 50 (a
        # start's script has about 100: 0.4 ms of the web process's CPU per trigger, docs/benchmarks.md).
        literals = _literals(raw)
        calls = [_execute(cursor, raw, sql, params, literals) for sql, params in statements]
        if not calls:
            return []
        idle = raw.info.transaction_status == TransactionStatus.IDLE
        opens = db.in_atomic_block and idle and not raw.autocommit
        begin = [raw._get_tx_start_command().decode()] if opens else []
        text = "; ".join([*begin, *calls, *(["COMMIT"] if commit else [])])
        with _begun_in_text(raw, opens):
            cursor.execute(text)
        if begin:
            results.nextset()  # past BEGIN's own result
        outcomes.append(_pg_outcome(results))
        while results.nextset():
            outcomes.append(_pg_outcome(results))
    return outcomes[: len(statements)]


@contextmanager
def _begun_in_text(raw: Any, opens: bool) -> Iterator[None]:
    """Let the query string that opens a transaction carry its own BEGIN.

    psycopg sends the BEGIN of a transaction Django opened as a round trip of its own before
    the first statement; a script that is the transaction's first sends it in its own text
    instead, while psycopg takes the connection for autocommitted (a private flag, set back
    at once, whatever happens: the transaction is then open, or failed and rolled back by
    Django's atomic block as any failed statement's is).
    """
    if not opens:
        yield
        return
    raw._autocommit = True
    try:
        yield
    finally:
        raw._autocommit = False


def positional(sql: str, params: Mapping[str, Any]) -> tuple[str, list[Any]]:
    """`sql` with a `%s` for each named parameter, and the values in that order."""
    values: list[Any] = []

    def mark(found: re.Match[str]) -> str:
        values.append(params[found.group(1)])
        return "%s"

    return _NAMED.sub(mark, sql), values


class _Parsed(NamedTuple):
    """A statement's text as a prepared statement: its name, its body with `$n`, and its parameters' names in order."""

    name: str
    body: str
    names: tuple[str, ...]


# By statement text. The engine sends a bounded set of texts (a list is one array parameter: `among`),
# so this stays small; LIMIT only guards against a caller that builds texts without end.
_parsed: dict[str, _Parsed] = {}


def _parse(sql: str) -> _Parsed:
    """`sql` with `$1`, `$2`… for its named parameters (a name used twice keeps its number), parsed once per text.

    A worker sends the same few texts for every node: the regex and the hash cost more than
    binding the values when done for every call.
    """
    if (parsed := _parsed.get(sql)) is not None:
        return parsed
    numbers: dict[str, int] = {}

    def number(found: re.Match[str]) -> str:
        return f"${numbers.setdefault(found.group(1), len(numbers) + 1)}"

    body = _NAMED.sub(number, sql)
    name = "engine_" + hashlib.sha1(sql.encode(), usedforsecurity=False).hexdigest()[:20]
    parsed = _Parsed(name, body, tuple(numbers))
    if len(_parsed) < _Prepared.LIMIT:
        _parsed[sql] = parsed
    return parsed


class _Prepared:
    """The names of the statements prepared on each PostgreSQL connection (by its psycopg object).

    PREPARE lasts as long as the session and survives a rolled-back transaction, so a name is
    recorded once its PREPARE has run. A connection holds at most LIMIT of them; statements
    beyond that run unprepared, which bounds what an unusual text costs the server.
    """

    LIMIT = 200

    def __init__(self) -> None:
        self.names: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()
        self.lock = threading.Lock()

    def of(self, raw: Any) -> set[str]:
        with self.lock:
            return self.names.setdefault(raw, set())


_prepared_names = _Prepared()


def _execute(cursor: Any, raw: Any, sql: str, params: Mapping[str, Any], literals: abc.Transformer) -> str:
    """`sql` as a call of its prepared statement on `raw`, the cursor's connection (prepared first if needed), its
    values written in as `literals` gives them."""
    parsed = _parse(sql)
    names = _prepared_names.of(raw)
    values = [params[name] for name in parsed.names]
    if parsed.name not in names:
        if len(names) >= _Prepared.LIMIT:
            unprepared, values = positional(sql, params)
            return unprepared % tuple(_literal(literals, value) for value in values)
        cursor.execute(f"PREPARE {parsed.name} AS {parsed.body}")
        names.add(parsed.name)
    if not values:
        return f"EXECUTE {parsed.name}"
    return f"EXECUTE {parsed.name}({', '.join(_literal(literals, value) for value in values)})"


_thread_literals = threading.local()


def _literals(raw: Any) -> abc.Transformer:
    """psycopg's transformer for `raw`, this thread's connection, kept while the thread keeps the connection.

    A transformer finds and keeps a dumper for each type it meets; a new one for every script
    looked each of them up again, which doubled the cost of writing a run's values into the text.
    """
    literals = getattr(_thread_literals, "transformer", None)
    if literals is None or literals.connection is not raw:
        literals = _thread_literals.transformer = adapt.Transformer.from_context(raw)
    return literals


def _literal(literals: abc.Transformer, value: Any) -> str:
    """`value` as psycopg's client-side binding writes it into a query (the same adapters, the same quoting).

    The values the engine writes most are written here, as psycopg would: plain integers,
    booleans, lists of integers (the ids of `among`) and of strings (node ids), strings
    (statuses, node ids, owners), aware datetimes and Django's JSON values. Through psycopg
    each asked for its dumper and its quoting, and a list had every item inspected to type
    the array: about 0.25 ms of a worker's CPU per 3-node run (docs/benchmarks.md). A text
    with a backslash or a NUL goes through psycopg: it quotes a backslash with E'' and
    refuses a NUL, and both are rare here. A list goes untyped (`'{1,2}'`), and PostgreSQL
    reads it, as any untyped literal, as the prepared statement's parameter type.
    """
    kind = type(value)
    if value is None:
        return "NULL"
    if kind is int:
        return _integer(value)
    if kind is bool:
        return "true" if value else "false"
    if isinstance(value, str):
        if (quoted := _quoted(value)) is not None:
            return quoted
    elif kind is datetime and value.tzinfo is not None:
        return f"'{value.isoformat(sep=' ')}'::timestamptz"
    elif kind is Jsonb and value.dumps is not None:
        text = value.dumps(value.obj)
        if isinstance(text, str) and (quoted := _quoted(text)) is not None:
            return quoted + "::jsonb"
    elif kind is list:
        if all(type(item) is int for item in value):
            return "'{" + ",".join(map(str, value)) + "}'"
        if all(isinstance(item, str) for item in value) and (array := _array(value)) is not None:
            return array
    # Django's PostgreSQL backend connects with client_encoding UTF8.
    return literals.as_literal(value).decode()


def _quoted(text: str) -> str | None:
    """`text` as a standard SQL string literal, quotes doubled, if it has no backslash and no NUL (see `_literal`)."""
    if "\\" in text or "\0" in text:
        return None
    return "'" + text.replace("'", "''") + "'"


def _array(items: list[str]) -> str | None:
    """The strings as an array literal, each double-quoted for the array's own syntax (so that commas, braces,
    spaces and the word NULL are plain text in it), if none has a double quote (see `_quoted`)."""
    if any('"' in item for item in items):
        return None
    return _quoted("{" + ",".join('"' + item + '"' for item in items) + "}")


def _integer(value: int) -> str:
    # A space before a minus sign, as psycopg writes one: after another minus it would start a comment.
    return str(value) if value >= 0 else f" {value}"


def _outcome(cursor: Any) -> Outcome:
    return Outcome(cursor.fetchall() if cursor.description else [], cursor.rowcount)


def _pg_outcome(cursor: Any) -> Outcome:
    """_outcome on psycopg, asking the result's status whether it has rows: `description` would build a
    column object for every column of every statement's result, only to be tested for emptiness."""
    result = cursor.pgresult
    rows = result is not None and result.status == ExecStatus.TUPLES_OK
    return Outcome(cursor.fetchall() if rows else [], cursor.rowcount)


def among(column: str, values: Sequence[Any], name: str) -> tuple[str, dict[str, Any]]:
    """`column` is one of `values`: one array parameter on PostgreSQL, so that every list size is one
    prepared statement; a parameter per value elsewhere."""
    if not values:
        return "FALSE", {}
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%({name})s)", {name: list(values)}
    names = [f"{name}_{i}" for i in range(len(values))]
    return f"{column} IN ({', '.join(f'%({n})s' for n in names)})", dict(zip(names, values, strict=True))


@functools.lru_cache(maxsize=1024)
def field(model: type[Model], name: str) -> Field[Any, Any]:
    """The model's field `name`, found once: every value the engine writes or reads is prepared by its field."""
    return cast("Field[Any, Any]", model._meta.get_field(name))


def _this_thread() -> BaseDatabaseWrapper:
    """This thread's connection itself: the `connection` proxy looks it up again at every attribute,
    which the fields' preparation and conversion of each value do several times."""
    return connections[DEFAULT_DB_ALIAS]


def stored(model: type[Model], name: str, value: Any) -> Any:
    """`value` as the model's field `name` stores it."""
    return field(model, name).get_db_prep_save(value, _this_thread())


def assignments(model: type[Model], values: Mapping[str, Any], prefix: str) -> tuple[str, dict[str, Any]]:
    """`column = %(prefix_name)s, …` for an UPDATE's SET, and the values as the model's fields store them."""
    db = _this_thread()
    parts, params = [], {}
    for name, value in values.items():
        model_field, column = _assigned(model, name, db)
        parts.append(f"{column} = %({prefix}{name})s")
        params[f"{prefix}{name}"] = model_field.get_db_prep_save(value, db)
    return ", ".join(parts), params


# By model, field name and database vendor (the quoting is the vendor's): a set bounded by the engine's own writes.
_columns: dict[tuple[type[Model], str, str], tuple[Field[Any, Any], str]] = {}


def _assigned(model: type[Model], name: str, db: BaseDatabaseWrapper) -> tuple[Field[Any, Any], str]:
    """A field and its column quoted for `db`, found once rather than for every value written."""
    key = (model, name, db.vendor)
    found = _columns.get(key)
    if found is None:
        model_field = field(model, name)
        found = _columns[key] = (model_field, db.ops.quote_name(model_field.column))
    return found


def converted(model: type[Model], names: Sequence[str], row: Sequence[Any]) -> dict[str, Any]:
    """A row's values by field name, converted as the ORM's compiler converts them."""
    db = _this_thread()
    values = {}
    for name, value in zip(names, row, strict=True):
        column, converters = _conversion(model, name, db)
        for convert in converters:
            value = convert(value, column, db)
        values[name] = value
    return values


@functools.lru_cache(maxsize=1024)
def _conversion(model: type[Model], name: str, db: BaseDatabaseWrapper) -> tuple[Any, tuple[Callable[..., Any], ...]]:
    """A field's column and the converters the compiler applies to it, for one connection (the backend's converters
    are its methods): found once, not per value, since finding them builds a column expression and asks the backend."""
    column = field(model, name).get_col(model._meta.db_table)
    return column, tuple(db.ops.get_db_converters(column) + column.get_db_converters(db))


def instance(model: type[M], values: Mapping[str, Any]) -> M:
    """A model instance with only `values` loaded; from_db wants them in the model's field order."""
    names = [f.attname for f in model._meta.concrete_fields if f.attname in values]
    return model.from_db(connection.alias, names, [values[name] for name in names])


def from_json(model: type[Model], name: str, value: Any) -> Any:
    """A JSON column's raw value as the model's field reads it."""
    return field(model, name).from_db_value(value, None, connection)  # type: ignore[attr-defined]
