"""Updates of node rows refused by PostgreSQL itself, for tests of what the engine does then."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection


@contextmanager
def refusing(name: str, condition: str, before: str = "", after: str = "", *, silently: bool = False) -> Iterator[None]:
    """Inside the block, PostgreSQL refuses every update of a node row that meets `condition`: with an error,
    or `silently` (the update matches no row, as when the node was taken over meanwhile)."""
    refuse = (
        "RETURN NULL;"
        if silently
        else "RAISE EXCEPTION 'injected: the database refuses this update of %', NEW.node_id;"
    )
    create = f"""{before}
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF {condition} THEN
        {refuse}
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER {name} BEFORE UPDATE ON engine_noderun FOR EACH ROW EXECUTE FUNCTION {name}();"""
    with connection.cursor() as cursor:
        cursor.execute(create)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TRIGGER {name} ON engine_noderun; DROP FUNCTION {name}(); {after}")
