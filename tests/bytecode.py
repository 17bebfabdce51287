"""Compiled modules kept outside the source tree, so that each test process does not compile the project anew.

The machines that run the suite may forbid `__pycache__` in the source tree
(PYTHONDONTWRITEBYTECODE=1, as the test machine sets it). Python then compiles every module of
the project, and pytest rewrites the asserts of every test module, in each of `make pytest`'s
five processes and in every session. Kept in a directory of their own instead, they are
compiled once and read back after that, and a source file that changes is compiled again
(its modification time and size are in the cached file).

The test settings (tests/settings.py), which pytest-django reads before it sets Django up and
so before the project's apps are imported, and the fork server (tests/worker_forks.py) call
keep_outside_the_tree. pytest's plugins (hypothesis, schemathesis, faker ...) are imported
before that, so `make` sets the same directory in the environment (PYTHONPYCACHEPREFIX), which
holds from the interpreter's start. This module imports no part of the project.
"""

import os
import sys
import tempfile

DIRECTORY = os.path.join(tempfile.gettempdir(), "switchyard-test-bytecode")


def keep_outside_the_tree() -> None:
    """Write and read compiled modules (and pytest's rewritten tests) under DIRECTORY, whatever the environment says."""
    sys.dont_write_bytecode = False
    sys.pycache_prefix = DIRECTORY
