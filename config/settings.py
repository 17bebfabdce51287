"""Settings for both modes: embedded (no DATABASE_URL, no REDIS_URL) and production (both set)."""

import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from config.channel_layer import redis_prefix
from config.env import Env

env = Env()
# Knowledge searches run side by side in worker and web threads; BLAS's own thread pool made each
# vector product fight them for the same cores (hybrid p95 50 ms against 21 ms at 10,000 chunks,
# docs/benchmarks.md). Settings load before anything imports numpy; an operator's own value wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env.text("SWITCHYARD_DATA_DIR", str(BASE_DIR / "var"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

DATABASE_URL = env.url("DATABASE_URL", {"postgres", "postgresql"})
REDIS_URL = env.url("REDIS_URL", {"redis", "rediss"})
EMBEDDED = not DATABASE_URL and not REDIS_URL
if bool(DATABASE_URL) != bool(REDIS_URL):
    raise ImproperlyConfigured(
        "Set both DATABASE_URL and REDIS_URL for production mode, or neither for the embedded mode; "
        f"only {'DATABASE_URL' if DATABASE_URL else 'REDIS_URL'} is set"
    )


def embedded_secret_key() -> str:
    """The embedded mode keeps a generated key beside its data so sessions survive a restart."""
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


if EMBEDDED:
    SECRET_KEY = env.text("SECRET_KEY") or embedded_secret_key()
else:
    SECRET_KEY = env.required("SECRET_KEY", "production mode signs sessions and tokens with it")
if len(SECRET_KEY) < 32:
    raise ImproperlyConfigured("SECRET_KEY is too short: use at least 32 random characters")

DEBUG = env.flag("DEBUG", False)
ALLOWED_HOSTS = env.items("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.origins("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "channels",
    "django_htmx",
    "django_vite",
    "template_partials",
    "csp",
    "accounts",
    "engine",
    "builder",
    "approvals",
    "knowledge",
    "costs",
    "monitoring",
    "integrations",
    "datasets",
    "evals",
]

# Under ASGI, Django's and django-csp's classes here run as config/middleware.py's variants, on the event
# loop; the names stay Django's, which its deployment checks (manage.py check --deploy) look for.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "servestatic.middleware.ServeStaticMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "accounts.middleware.CurrentWorkspaceMiddleware",
    # After the others, so it sees the flag a refused sign-in leaves on the request and answers with the lockout page.
    "axes.middleware.AxesMiddleware",
    # Innermost: the middleware above see the answer a waiting API call gives (config/waiting_answers.py).
    "config.waiting_answers.answer_when_done",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.workspace",
                "config.navigation.navigation",
            ],
        },
    },
]

if EMBEDDED:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "db.sqlite3",
            # WAL and IMMEDIATE transactions let the web server and the in-process worker
            # write at the same time without "database is locked" errors.
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
else:
    # The web process (ASGI) runs each request on its own thread, so persistent connections
    # would pile up rather than be reused: it connects per request, unless DB_POOL_SIZE gives it
    # a pool (docs/deploy.md runs it with one: a connect cost more than the rest of a cheap
    # request, bench/api_trigger.py). Celery workers keep theirs
    # (DB_CONN_MAX_AGE=60 in their environment), which saves a connect per task, or, with
    # DB_POOL_SIZE, share a pool of that many: a worker whose node threads wait on model calls
    # then takes a connection for each step of a node and gives it back, instead of holding
    # one per thread or connecting anew for each step (docs/deploy.md).
    DB_POOL_SIZE = env.integer("DB_POOL_SIZE", 0, maximum=1000)
    database: dict[str, Any] = dict(
        dj_database_url.parse(
            DATABASE_URL,
            conn_max_age=0 if DB_POOL_SIZE else env.integer("DB_CONN_MAX_AGE", 0, maximum=3600),
            # Pooled connections are not pinged before each use (a round trip per step): one
            # that died idle fails its step once, the pool replaces it, the node is retried.
            conn_health_checks=not DB_POOL_SIZE,
        )
    )
    if DB_POOL_SIZE:
        # A thread waits up to `timeout` seconds for a connection before its step fails (and is retried).
        database["OPTIONS"] = {
            **database.get("OPTIONS", {}),
            "pool": {"min_size": 1, "max_size": DB_POOL_SIZE, "timeout": 30},
        }
    DATABASES = {"default": database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"

# Sign-in throttling (django-axes, docs/deploy.md "Sign-in throttling"): its backend refuses a
# locked-out username or address before the password is checked, on /accounts/login/ and /admin/ alike.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env.integer("SIGNIN_FAILURE_LIMIT", 10, minimum=1, maximum=1000)
AXES_COOLOFF_TIME = timedelta(minutes=env.integer("SIGNIN_COOLOFF_MINUTES", 15, minimum=1, maximum=10_080))
# Either counter alone locks: guessing one account from many addresses, or many accounts from one.
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# Axes' own reset on success deletes the address's rows too, so anyone with an account could sign
# in to it between guesses and wipe the count for the account they attack; accounts/signin.py
# resets only the signed-in username's failures.
AXES_RESET_ON_SUCCESS = False
AXES_LOCKOUT_CALLABLE = "accounts.signin.lockout_response"
# Successful sign-ins are already in the audit log; axes' access log would be a second, unbounded copy.
AXES_DISABLE_ACCESS_LOG = True
# No AXES_IPWARE_* settings: axes counts by REMOTE_ADDR, which uvicorn takes from X-Forwarded-For
# only when the peer is listed in FORWARDED_ALLOW_IPS (docs/deploy.md), so no client picks its own.

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Serving through the finders means no collectstatic step in either mode; Vite already
# fingerprints the bundles it writes to static/dist. ServeStatic, unlike WhiteNoise, serves
# files asynchronously under ASGI.
SERVESTATIC_USE_FINDERS = True
DJANGO_VITE = {
    "default": {
        "dev_mode": False,
        "manifest_path": BASE_DIR / "static" / "dist" / "manifest.json",
        "static_url_prefix": "dist",
    }
}

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# SECURE=1 says the site is served over HTTPS only: plain HTTP is redirected and browsers are
# told (HSTS) never to use it again (docs/deploy.md "HTTPS").
SECURE = env.flag("SECURE", False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env.flag("SECURE_COOKIES", SECURE or (not EMBEDDED and not DEBUG))
if SECURE and not SESSION_COOKIE_SECURE:
    raise ImproperlyConfigured("SECURE=1 needs HTTPS-only cookies: unset SECURE_COOKIES or set it to true")
if SECURE:
    SECURE_SSL_REDIRECT = True
    # Load balancers and the compose health check call it over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
    SECURE_HSTS_SECONDS = env.integer("HSTS_SECONDS", 31_536_000, minimum=0, maximum=63_072_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.flag("HSTS_INCLUDE_SUBDOMAINS", False)
    SECURE_HSTS_PRELOAD = env.flag("HSTS_PRELOAD", False)
if env.flag("BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
DATA_UPLOAD_MAX_MEMORY_SIZE = env.integer("MAX_REQUEST_BYTES", 2_621_440, minimum=1024)
# The largest file any upload may be; past it a file is counted while it streams in, not kept
# (engine/upload_limit.py), and the page or API call refuses it by its size.
MAX_UPLOAD_FILE_BYTES = 20_000_000
FILE_UPLOAD_HANDLERS = [
    "engine.upload_limit.UploadSizeLimit",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
# A dataset holds at most this many rows and bytes of JSON (docs/batches.md); an uploaded file
# is also capped by MAX_UPLOAD_FILE_BYTES while it streams in.
DATASET_MAX_ROWS = env.integer("DATASET_MAX_ROWS", 100_000, minimum=1, maximum=10_000_000)
DATASET_MAX_BYTES = env.integer("DATASET_MAX_BYTES", 50_000_000, minimum=1024, maximum=2**31)

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        # React Flow positions nodes with inline style attributes.
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
# kombu's Redis transport with one redis-py client per channel instead of one per command (config/redis_transport.py).
# Not for rediss://: kombu gives that scheme its TLS defaults by its name.
CELERY_BROKER_TRANSPORT = "config.redis_transport:Transport" if REDIS_URL.startswith("redis://") else None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 300
CELERY_TASK_TIME_LIMIT = 360
# Redis re-delivers an unacknowledged message after the visibility timeout; keep it far above
# the hard time limit so a long task is never handed to a second worker while it still runs.
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, float] = (
    {"visibility_timeout": 7200} if REDIS_URL else {"polling_interval": 0.05}
)
# A task whose message cannot be acknowledged after Redis went away runs on: its nodes' outcomes
# are written to PostgreSQL, fenced by attempt and lease, and a redelivery of its message
# claims nothing. Celery's cancel would SIGTERM a prefork child mid-node, leaving the node to
# wait out its lease and run again (bench/chaos, tests/config/test_celery.py).
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_MAX_MEMORY_PER_CHILD = 512_000
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Celery's Django fixup closes every connection around every task unless this is set, whatever
# CONN_MAX_AGE says; config/celery.py applies CONN_MAX_AGE around tasks instead.
CELERY_DB_REUSE_MAX = 2**31
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
# A crashed worker's node is taken over one lease after its last heartbeat (three beats per
# lease, so two missed beats are survived); an outcome the database refuses for a moment is
# recorded again for up to a lease (docs/engine.md, "Leases").
ENGINE_LEASE_S = env.integer("ENGINE_LEASE_SECONDS", 12, minimum=2, maximum=600)
ENGINE_HEARTBEAT_S = ENGINE_LEASE_S / 3
ENGINE_REAP_INTERVAL_S = env.integer("ENGINE_REAP_INTERVAL_SECONDS", 2, minimum=1, maximum=300)
ENGINE_REDISPATCH_AFTER_S = env.integer("ENGINE_REDISPATCH_SECONDS", 15, minimum=1, maximum=3600)
ENGINE_CRASH_RETRIES = 3
# A worker process on another host (pid namespace) that has not beaten for this long is dead, and its
# nodes are claimed again at once; one on the same host is dead when /proc says so (engine.holders).
# Each process beats, and looks for the dead, every quarter of it.
ENGINE_WORKER_SILENCE_S = env.integer("ENGINE_WORKER_SILENCE_SECONDS", 4, minimum=1, maximum=60)
# Each worker records a heartbeat this often (config/worker_beats.py); /readyz wants one from the
# last READY_WORKER_SECONDS.
WORKER_BEAT_SECONDS = env.integer("WORKER_BEAT_SECONDS", 5, minimum=1, maximum=300)
READY_WORKER_SECONDS = env.integer("READY_WORKER_SECONDS", 30, minimum=2, maximum=3600)
# /metrics answers only a scrape that sends this bearer token; unset, it is off. Processes
# that share PROMETHEUS_MULTIPROC_DIR (web and workers) are summed there (docs/observability.md).
METRICS_TOKEN = env.text("METRICS_TOKEN")
PROMETHEUS_MULTIPROC_DIR = env.text("PROMETHEUS_MULTIPROC_DIR")
# The run page links to the trace of the request that started a run, e.g.
# https://jaeger.example.com/trace/{trace_id} (docs/observability.md).
TRACE_URL_TEMPLATE = env.text("TRACE_URL_TEMPLATE")
# The demo shop (builder/demo_shop.py) as the "Support agent" template's HTTP tools reach it: this server itself.
DEMO_SHOP_URL = env.text("DEMO_SHOP_URL", f"http://127.0.0.1:{env.text('PORT', '8000')}/demo/shop")
if TRACE_URL_TEMPLATE and "{trace_id}" not in TRACE_URL_TEMPLATE:
    raise ImproperlyConfigured(f"TRACE_URL_TEMPLATE={TRACE_URL_TEMPLATE!r} must contain {{trace_id}}")
if PROMETHEUS_MULTIPROC_DIR:
    Path(PROMETHEUS_MULTIPROC_DIR).mkdir(parents=True, exist_ok=True)
# Child runs (docs/engine.md, "Sub-workflows and for-each"): items one for_each node may run, and how
# deep child runs may nest.
ENGINE_FOR_EACH_MAX_ITEMS = env.integer("ENGINE_FOR_EACH_MAX_ITEMS", 10_000, minimum=1, maximum=1_000_000)
ENGINE_CHILD_MAX_DEPTH = env.integer("ENGINE_CHILD_MAX_DEPTH", 5, minimum=1, maximum=20)
# CA certificates (PEM) trusted for outbound HTTPS besides the usual ones: http_request
# nodes, webhooks and model providers behind an internal CA.
OUTBOUND_CA_BUNDLE = env.file("OUTBOUND_CA_BUNDLE")
# Threads per worker process that run node code: the most nodes one process runs at once.
ENGINE_NODE_THREADS = env.integer("ENGINE_NODE_THREADS", 128, minimum=1, maximum=1024)
# A transition that makes more nodes ready than this sends them in this many messages, each
# naming several nodes that one task runs side by side (docs/engine.md, "Scheduling").
ENGINE_DISPATCH_SPREAD = env.integer("ENGINE_DISPATCH_SPREAD", 16, minimum=1, maximum=10_000)
ENGINE_COUNTDOWN_LIMIT_S = 60
# A node may run for up to an hour (GraphNode.timeout_s); the task limits sit just above it.
ENGINE_TASK_SOFT_LIMIT_S = 3660
ENGINE_TASK_HARD_LIMIT_S = 3720
CELERY_BEAT_SCHEDULE = {
    "engine-reaper": {"task": "engine.tasks.reap", "schedule": float(ENGINE_REAP_INTERVAL_S)},
    "clear-expired-sessions": {"task": "accounts.tasks.clear_expired_sessions", "schedule": crontab(hour=3, minute=17)},
    # Schedules have minute resolution: a 15 s tick fires each slot at most 15 s late for one
    # indexed query per tick. Overlapping or repeated ticks are harmless (fire_due claims each
    # slot once), and a tick older than the next one is dropped rather than queued up behind a
    # stopped worker.
    "fire-schedules": {"task": "builder.tasks.fire_schedules", "schedule": 15.0, "options": {"expires": 15}},
    # Web-page documents re-sync on hourly or longer schedules; a minute's lateness is nothing.
    "knowledge-sync": {"task": "knowledge.tasks.sync_due_documents", "schedule": 60.0, "options": {"expires": 60}},
}

if REDIS_URL:
    CACHES = {"default": {"BACKEND": "config.cache.SharedRedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
API_TOKEN_TRIGGERS_PER_MINUTE = env.integer("API_TOKEN_TRIGGERS_PER_MINUTE", 60, minimum=1, maximum=100_000)

if REDIS_URL:
    # socket_timeout=None: channels_redis waits for messages with a 5 s blocking pop, and
    # redis-py 8's default 5 s socket timeout would fire first and kill the consumer
    # (django/channels_redis#422). Its async pool also caps connections at 100 by default.
    CHANNEL_LAYERS: dict[str, dict[str, Any]] = {
        "default": {
            # Pub/sub: one Redis message per process for a group send, instead of one per
            # consumer; its prompts are as lossy as the list-based layer's, which is fine here
            # because the database is the truth (docs/websocket.md).
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "socket_timeout": None, "max_connections": 1000}],
                "prefix": redis_prefix(REDIS_URL),
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "config.channel_layer.EmbeddedChannelLayer"}}
# Open websockets re-check their access this often, in case the prompt of a change was dropped (docs/websocket.md).
WS_ACCESS_RECHECK_SECONDS = env.integer("WS_ACCESS_RECHECK_SECONDS", 30, minimum=1, maximum=3600)
# How long an MCP tool call waits for its run before answering with the run's id and status instead.
MCP_CALL_WAIT_SECONDS = env.integer("MCP_CALL_WAIT_SECONDS", 60, minimum=1, maximum=3600)
# The longest `timeout_s` a trigger call with wait=true may ask for (read when the API is imported).
RUN_WAIT_MAX_SECONDS = env.integer("RUN_WAIT_MAX_SECONDS", 60, minimum=1, maximum=3600)
# A trigger call with wait=true reads its run this often besides when prompted, in case a prompt was dropped.
RUN_WAIT_RECHECK_SECONDS = env.integer("RUN_WAIT_RECHECK_SECONDS", 10, minimum=1, maximum=3600)

# Fernet keys for provider credentials, newest first (engine/secrets.py); empty derives one from SECRET_KEY.
CREDENTIAL_KEYS = env.fernet_keys("CREDENTIAL_KEYS")

EMAIL_BACKEND = env.text("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.text("DEFAULT_FROM_EMAIL", "switchyard@localhost")

LOG_LEVEL = env.text("LOG_LEVEL", "INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(f"LOG_LEVEL={LOG_LEVEL!r} is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
# LOG_FORMAT=json writes one JSON object per line, with run_id, node_id and attempt on the lines
# of a node execution (engine/log_context.py; docs/observability.md).
LOG_FORMAT = env.text("LOG_FORMAT", "plain").lower()
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r} is not one of plain, json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": ["asctime", "levelname", "name", "message"],
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "filters": {"node_fields": {"()": "engine.log_context.NodeFields"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["node_fields"]}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
