"""The settings pytest runs with: the app's own, with a quicker flush on PostgreSQL and a test file on SQLite."""

from config.settings import *  # noqa: F403
from config.settings import DATA_DIR, DATABASES, EMBEDDED

if EMBEDDED:
    # A file, not Django's default in-memory database: the runner's node threads open
    # connections of their own, and each would see an empty in-memory database.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test_db.sqlite3")}
else:
    DATABASES["default"]["ENGINE"] = "tests.postgresql"
