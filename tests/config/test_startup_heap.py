"""Web and worker processes freeze what they loaded at start: full collections skip it (config/startup_heap.py)."""

import json
import re

import pytest

from tests.eventually import eventually
from tests.workers import Worker, run_python

# Imports the ASGI application as uvicorn does, then reports what the collector holds.
WEB_PROBE = """
import gc, json, sys
import config.asgi
found = {"frozen": gc.get_freeze_count(), "tracked": len(gc.get_objects())}
print(json.dumps(found | {"views": "builder.api" in sys.modules}))
"""

# A reference cycle, which only the collector frees, left behind before the freeze.
GARBAGE_PROBE = """
import gc, json, weakref
from config import startup_heap
class Cycle: pass
left = Cycle()
left.itself = left
gone = weakref.ref(left)
del left
frozen = startup_heap.freeze()
print(json.dumps({"freed": gone() is None, "frozen": frozen, "counted": gc.get_freeze_count()}))
"""


def probe(code: str, tmp_path) -> dict:
    result = run_python(code, {"PATH": "/usr/bin:/bin", "SWITCHYARD_DATA_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_web_application_freezes_what_it_loaded_with_every_view(tmp_path):
    found = probe(WEB_PROBE, tmp_path)
    assert found["views"], "the URLconf's views were not loaded before the freeze"
    assert found["frozen"] > 100_000
    # What a full collection still walks: under a twentieth of what start loaded.
    assert found["tracked"] < found["frozen"] / 20


def test_garbage_made_before_the_freeze_is_freed_not_frozen(tmp_path):
    found = probe(GARBAGE_PROBE, tmp_path)
    assert found["freed"], "a cycle left before the freeze was frozen instead of freed"
    assert found["frozen"] == found["counted"] > 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("without_worker")
def test_a_celery_worker_freezes_what_it_loaded_once_it_consumes():
    worker = Worker(concurrency=1, loglevel="INFO")
    try:
        said = eventually(
            lambda: re.search(r"froze (\d+) objects loaded at start", worker.output()),
            timeout=30,
            message=lambda: worker.output()[-2000:],
        )
    finally:
        worker.stop()
    assert int(said.group(1)) > 100_000
