"""Writes PostgreSQL itself refuses (a trigger on the table), for tests of what the engine does then."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection

# What a refused write meets: an error, or (SKIP) nothing written, as when the row was taken over meanwhile.
RAISE = "RAISE EXCEPTION 'injected: the database refuses this update of %', NEW.node_id;"
SKIP = "RETURN NULL;"


@contextmanager
def refusing(
    name: str,
    condition: str,
    action: str = RAISE,
    *,
    table: str = "engine_noderun",
    when: str = "BEFORE UPDATE",
    before: str = "",
    after: str = "",
) -> Iterator[None]:
    """Inside the block, every write `when` names to a row of `table` that meets `condition` runs `action`
    (PL/pgSQL) first. `before` and `after` are SQL run when the trigger is created and dropped."""
    create = f"""{before}
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF {condition} THEN
        {action}
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER {name} {when} ON {table} FOR EACH ROW EXECUTE FUNCTION {name}();"""
    with connection.cursor() as cursor:
        cursor.execute(create)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TRIGGER {name} ON {table}; DROP FUNCTION {name}(); {after}")
