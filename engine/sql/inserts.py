"""Inserts as statements of a script: model instances as one `INSERT … VALUES` with named parameters.

A for_each item's end starts the next item's child run under the parent run's lock; through
the ORM its three inserts were three round trips with the lock held. As statements they go
with the transaction's last script (`Change.defer`). Values are prepared by the models' own
fields, as `bulk_create` would prepare them.
"""

from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.db.models import Model

from engine.sql.script import Statement


def insert(objs: Sequence[Model], prefix: str) -> Statement:
    """One statement inserting `objs` (instances of one model; a pk is written if set), RETURNING their ids."""
    model = type(objs[0])
    fields = [f for f in model._meta.concrete_fields if not (f.primary_key and objs[0].pk is None)]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    rows, params = [], {}
    for i, obj in enumerate(objs):
        names = []
        for f in fields:
            name = f"{prefix}{i}_{f.attname}"
            params[name] = f.get_db_prep_save(f.pre_save(obj, True), connection)
            names.append(f"%({name})s")
        rows.append(f"({', '.join(names)})")
    table = connection.ops.quote_name(model._meta.db_table)
    return f"INSERT INTO {table} ({columns}) VALUES {', '.join(rows)} RETURNING id", params  # noqa: S608


def next_id(model: type[Model]) -> Statement:
    """The next id of `model`'s table (PostgreSQL): rows referring to a row can be built before it is inserted."""
    return f"SELECT nextval(pg_get_serial_sequence('{model._meta.db_table}', 'id'))", {}


def returned_ids(rows: Sequence[tuple[Any, ...]]) -> list[int]:
    return [int(row[0]) for row in rows]
