"""Production settings plus the benchmark's baseline endpoint: only bench/api_trigger.py's uvicorn loads this."""

from config.settings import *  # noqa: F403  (the production settings, unchanged but for the URLconf)

ROOT_URLCONF = "bench.api_baseline"
