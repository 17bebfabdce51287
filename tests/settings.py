"""The settings pytest runs with: the app's own, with a quicker flush on PostgreSQL and a test file on SQLite;
the compiled project kept outside the source tree."""

from config.settings import *  # noqa: F403
from config.settings import DATA_DIR, DATABASES, EMBEDDED, MIDDLEWARE
from tests import bytecode

# Read before Django imports the apps: the project is compiled once, not in every test process.
bytecode.keep_outside_the_tree()

# The test of hundreds of waiting calls holds them all while it checks that none polls, and on a
# loaded 2-core machine that alone can outlast the default 60 s cap of a waiting call.
RUN_WAIT_MAX_SECONDS = 600

# Each test client builds its own middleware; ServeStatic's table of files is built once (tests/static_files.py).
MIDDLEWARE = [
    "tests.static_files.ServeStaticBuiltOnce" if path == "servestatic.middleware.ServeStaticMiddleware" else path
    for path in MIDDLEWARE
]

if EMBEDDED:
    # A file, not Django's default in-memory database: the runner's node threads open
    # connections of their own, and each would see an empty in-memory database.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test_db.sqlite3")}
else:
    DATABASES["default"]["ENGINE"] = "tests.postgresql"
