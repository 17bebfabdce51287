"""A benchmark's own PostgreSQL database and Redis db on 127.0.0.1, made ready before Django starts.

Each benchmark empties and refills its database, so the name must contain "bench": pointing
BENCH_DATABASE_URL at a real database is refused rather than wiped.
"""

import os
import sys
from pathlib import Path

import psycopg
import redis

SERVER = "postgresql://postgres@127.0.0.1:5432"


class CouldNotMeasure(SystemExit):
    """Raised when the services a benchmark needs do not answer; exits non-zero with the reason."""


def create_database(url: str) -> None:
    """Create the database `url` names if it does not exist; psycopg.Error if PostgreSQL does not answer."""
    server, _, name = url.rpartition("/")
    with psycopg.connect(f"{server}/postgres", autocommit=True, connect_timeout=3) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            admin.execute(f'CREATE DATABASE "{name}"')


def own_services(database_url: str, redis_url: str, data_dir: str, **extra_env: str) -> None:
    """Create the database, empty the Redis db, and point this process (before Django loads) at both;
    psycopg.Error or redis.RedisError when one does not answer."""
    create_database(database_url)
    redis.Redis.from_url(redis_url, socket_connect_timeout=3).flushdb()
    os.environ.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        SECRET_KEY="bench-only-secret-key-not-used-for-anything-real-0123456789",  # noqa: S106
        SWITCHYARD_DATA_DIR=data_dir,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        LOG_LEVEL="WARNING",
        **extra_env,
    )


def use_own_database(name: str, redis_db: int) -> str:
    """Create the database if needed, point Django at it, and set up Django; returns its URL."""
    url = os.environ.get("BENCH_DATABASE_URL", f"{SERVER}/{name}")
    server, _, db_name = url.rpartition("/")
    if "bench" not in db_name:
        raise CouldNotMeasure(f"refusing to fill {db_name!r}: a benchmark database's name must contain 'bench'")
    try:
        create_database(url)
    except psycopg.Error as error:
        raise CouldNotMeasure(f"PostgreSQL on {server} is not usable: {error}") from error
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("REDIS_URL", f"redis://127.0.0.1:6379/{redis_db}")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-that-is-long-enough-to-pass")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import django

    django.setup()
    return url
