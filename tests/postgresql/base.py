"""Django's PostgreSQL backend, except that a flush DELETEs rows instead of TRUNCATE-ing tables.

A transactional test ends with a flush of every table, then Django's post_migrate handlers
write back the content types and permissions. TRUNCATE swaps each table's files (and its
indexes'), about half a second for this schema on the test machine however little the tables
hold; DELETE of the few rows a test leaves takes milliseconds. Django's foreign keys on
PostgreSQL are DEFERRABLE INITIALLY DEFERRED, so the order of the DELETEs does not matter
inside the flush's transaction, which locks the tables as TRUNCATE would. The content types
and permissions are left in place: the handlers would write the same rows back, and finding
them there costs a few reads instead.
"""

from typing import Any

from django.db import OperationalError
from django.db.backends.postgresql import base, operations
from psycopg.errors import DeadlockDetected

# Rows post_migrate writes back after every flush; every test sees them, none changes them.
KEPT = {"django_content_type", "auth_permission"}
FLUSH_TRIES = 5


class DatabaseOperations(operations.DatabaseOperations):
    def sql_flush(self, style: Any, tables: Any, *, reset_sequences: bool = False, allow_cascade: bool = False) -> Any:
        if reset_sequences or allow_cascade:
            return super().sql_flush(style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
        emptied = [style.SQL_FIELD(self.quote_name(table)) for table in tables if table not in KEPT]
        # The lock TRUNCATE would take: a worker's transaction still writing a run of the test
        # ends before the DELETEs read the tables, and one that begins later waits for the flush.
        lock = f"{style.SQL_KEYWORD('LOCK TABLE')} {', '.join(emptied)} {style.SQL_KEYWORD('IN ACCESS EXCLUSIVE MODE')}"
        deletes = [f"{style.SQL_KEYWORD('DELETE FROM')} {table}" for table in emptied]
        # One script, one round trip: psycopg sends a query without parameters as it is.
        return ["; ".join([lock, *deletes]) + ";"]

    def execute_sql_flush(self, sql_list: Any) -> None:
        """The flush, tried again when PostgreSQL ends it to break a deadlock.

        The session's worker may still be running a run that a test started without waiting for
        it: its transaction holds a lock on one table and waits for another that the flush's LOCK
        has taken. PostgreSQL then rolls one of the two back; when it is the flush, the worker's
        transaction can finish and the flush goes through on the next try.
        """
        for attempt in range(FLUSH_TRIES):
            try:
                super().execute_sql_flush(sql_list)
                return
            except OperationalError as error:
                if not isinstance(error.__cause__, DeadlockDetected) or attempt == FLUSH_TRIES - 1:
                    raise


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
