"""ServeStatic's middleware with its table of static files built once per test process.

Django's test client builds a new handler, and with it every middleware, for each client, and
ServeStatic describes every static file (their stat, type and cache headers) when it is built:
55 ms of CPU per client, for hundreds of clients. The files do not change while the tests run,
so the table is built by the first client and shared by the others. The same files are served
with the same headers as in production, where one middleware chain serves the whole process.
"""

from typing import Any, ClassVar

from servestatic.middleware import ServeStaticMiddleware  # type: ignore[import-untyped]


class ServeStaticBuiltOnce(ServeStaticMiddleware):
    built: ClassVar[dict[str, Any]] = {}

    def add_files_from_finders(self) -> None:
        if not ServeStaticBuiltOnce.built:
            super().add_files_from_finders()
            ServeStaticBuiltOnce.built = dict(self.files)
        else:
            self.files.update(ServeStaticBuiltOnce.built)
