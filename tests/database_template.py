"""The PostgreSQL test database as a copy of a migrated template, instead of migrated anew each session.

Making the test database from the migrations took a session 50 to 65 s on the loaded 2-core test
machine (some 6 s of pytest's CPU and PostgreSQL's for the DDL besides), in every shard at
once, and dropping it at the end another 4 s. PostgreSQL copies a database of this size from
a template in well under a second. The first session migrates as before and keeps the
result as `<test database>_template`, commented with a fingerprint of every migration file
of every installed app (ours, Django's, the libraries') and Django's version; a later session
whose fingerprint matches drops the test database and copies it from the template. So each
session starts, as before, on a database fresh from the migrations, with the rows they seed
(model prices, for one); reusing a test database as `--reuse-db` does would give one whose
seeded rows the flush after a transactional test has deleted. When any migration changes,
the fingerprint differs and the next session migrates and keeps a new template.
"""

import functools
import hashlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import django
import psycopg
from django.db.backends.base.creation import TEST_DATABASE_PREFIX
from django.db.migrations.loader import MigrationLoader
from psycopg import sql

TEMPLATE_SUFFIX = "_template"


@functools.cache
def fingerprint() -> str:
    """What the migrated schema and its seeded rows depend on: every migration file on disk, and Django."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    digest = hashlib.sha256(django.get_version().encode())
    for key, migration in sorted(loader.disk_migrations.items()):
        digest.update(repr(key).encode())
        with open(sys.modules[migration.__module__].__file__ or "", "rb") as source:
            digest.update(source.read())
    return digest.hexdigest()


def name_of_test_database(settings_dict: dict[str, Any]) -> str:
    """The name Django gives the test database (before setup_databases renames the connection to it)."""
    return str(settings_dict.get("TEST", {}).get("NAME") or TEST_DATABASE_PREFIX + settings_dict["NAME"])


@contextmanager
def maintenance(settings_dict: dict[str, Any]) -> Iterator[psycopg.Connection]:
    """A connection to the server's `postgres` database, where databases are made and dropped."""
    with psycopg.connect(
        host=settings_dict["HOST"],
        port=settings_dict["PORT"] or 5432,
        user=settings_dict["USER"],
        password=settings_dict["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    ) as connection:
        yield connection


def template_is_current(connection: psycopg.Connection, name: str) -> bool:
    found = connection.execute(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", [name + TEMPLATE_SUFFIX]
    ).fetchone()
    return found is not None and found[0] == fingerprint()


def copy_from_template(settings_dict: dict[str, Any]) -> None:
    """The test database afresh: a copy of the template when it is current, else none (Django then migrates one).

    WITH (FORCE) ends the connections a killed earlier session may have left to it.
    """
    name = name_of_test_database(settings_dict)
    with maintenance(settings_dict) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        if template_is_current(connection, name):
            connection.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(name + TEMPLATE_SUFFIX)
                )
            )


def keep_as_template(settings_dict: dict[str, Any], name: str) -> None:
    """After the migrations made the test database `name`: keep a copy for the next sessions, unless one is current.

    Copying needs every connection to the database closed; the caller closes Django's.
    """
    with maintenance(settings_dict) as connection:
        if template_is_current(connection, name):
            return
        template = sql.Identifier(name + TEMPLATE_SUFFIX)
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(template))
        connection.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(template, sql.Identifier(name)))
        connection.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(template, sql.Literal(fingerprint())))
