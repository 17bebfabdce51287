"""Giving a thread's database connection back while the thread waits on something else."""

from django.db import connection


def release_connection(*, pooled_only: bool) -> None:
    """Close this thread's connection unless a transaction holds it; the next query takes one again.

    With a pool (DB_POOL_SIZE) closing hands the connection back to it and costs nothing. Without
    one it means connecting again later, which is worth it only for a long wait (a model call,
    `pooled_only=False`): a hundred calls would otherwise hold a hundred idle connections,
    PostgreSQL's default limit.
    """
    if pooled_only and getattr(connection, "pool", None) is None:
        return
    if not connection.in_atomic_block:
        connection.close()
