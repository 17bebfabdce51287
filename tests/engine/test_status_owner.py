"""Only engine/runs/ changes the status of a run or a node: no other module of the project writes one.

The scan reads every project module (migrations, tests and benchmarks aside, which build
rows in whatever state they need) and looks for the ways a status gets written: an ORM
update or create with `status=`, a `bulk_update` of "status", an assignment of a NodeStatus
or RunStatus to `.status`, `set_run(status=…)`, SQL that sets `status` on engine_run or
engine_noderun, and imports of the SQL modules that write statuses. Other models with a
status of their own (approvals, knowledge documents, invitations) are not run statuses: their
writes name neither NodeRun, Run nor their status enumerations.
"""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SKIPPED_DIRS = {".venv", "node_modules", "frontend", "static", "var", "migrations", "tests", "bench", ".git"}
# The package that owns every status change: each of its modules may write one.
OWNER = "engine/runs/"
# The SQL that writes statuses, and the only modules that may call it (a path ending in "/": any module under it).
STATUS_SQL = {
    "engine.sql.claims": {OWNER},
    "engine.sql.outcomes": {OWNER},
    # events.change saves the run fields engine/runs/ set (Change.set_run), status among them.
    "engine.sql.run_lock": {"engine/events.py"},
}
WRITERS = {"update", "create", "get_or_create", "update_or_create", "set_run"}
RUN_MODELS = re.compile(r"\b(NodeRun|Run|node_runs)\b")
RUN_STATUSES = re.compile(r"\b(NodeStatus|RunStatus)\b")
RUN_NAMES = re.compile(r"\brun\b|node_run")
SQL_STATUS_WRITE = re.compile(
    r"\b(UPDATE\s+[\"`]?(engine_run|engine_noderun)\b[^;]*?\bSET\b[^;]*?\bstatus\s*="
    r"|INSERT\s+INTO\s+[\"`]?(engine_run|engine_noderun)\b[^;]*?\bstatus\b)",
    re.IGNORECASE | re.DOTALL,
)


def _text(node: ast.AST) -> str:
    return ast.unparse(node)


def _string(node: ast.AST) -> str | None:
    """A string literal's text; an f-string's with its placeholders as written."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            str(part.value) if isinstance(part, ast.Constant) else "{" + _text(part) + "}" for part in node.values
        )
    return None


class _Scanner(ast.NodeVisitor):
    def __init__(self, module: str, tree: ast.Module) -> None:
        self.module = module
        self.found: list[str] = []
        # Module-level names bound to tuples or lists of strings (field lists), and names bound to run querysets.
        self.constants: dict[str, set[str]] = {}
        self.run_names: set[str] = set()
        # Loop variables by name, with the fields each loop goes over (`for name in FIELDS`).
        self.loop_fields: dict[str, list[set[str]]] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                name = node.targets[0].id
                if isinstance(node.value, ast.Tuple | ast.List):
                    self.constants[name] = {_string(e) or "" for e in node.value.elts}
                if RUN_MODELS.search(_text(node.value)):
                    self.run_names.add(name)

    def _flag(self, node: ast.AST, what: str) -> None:
        self.found.append(f"{self.module}:{getattr(node, 'lineno', '?')}: {what}: {_text(node)[:120]}")

    def _about_runs(self, receiver: ast.AST) -> bool:
        text = _text(receiver)
        root = receiver
        while isinstance(root, ast.Attribute | ast.Call | ast.Subscript):
            root = root.func if isinstance(root, ast.Call) else root.value
        return bool(RUN_MODELS.search(text)) or (isinstance(root, ast.Name) and root.id in self.run_names)

    def _fields(self, node: ast.AST) -> set[str]:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return {node.value}
        if isinstance(node, ast.Name):
            return self.constants.get(node.id, set())
        if isinstance(node, ast.Starred):
            return self._fields(node.value)
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            return set().union(*(self._fields(e) for e in node.elts)) if node.elts else set()
        return set()

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        status = next((k.value for k in node.keywords if k.arg == "status"), None)
        if isinstance(func, ast.Attribute) and func.attr in WRITERS and status is not None:
            if func.attr == "set_run" or self._about_runs(func.value) or RUN_STATUSES.search(_text(status)):
                self._flag(node, f"{func.attr}(status=…)")
        elif isinstance(func, ast.Attribute) and func.attr == "bulk_update" and self._about_runs(func.value):
            fields = self._fields(node.args[1]) if len(node.args) > 1 else set()
            fields |= set().union(*(self._fields(k.value) for k in node.keywords if k.arg == "fields"))
            if "status" in fields:
                self._flag(node, "bulk_update of status")
        elif isinstance(func, ast.Name) and func.id in ("Run", "NodeRun") and status is not None:
            self._flag(node, f"{func.id}(status=…)")
        elif isinstance(func, ast.Name) and func.id == "setattr" and self._sets_status(node.args):
            self._flag(node, "setattr of status")
        self.generic_visit(node)

    def _sets_status(self, args: list[ast.expr]) -> bool:
        """setattr(run, "status", …), or setattr(run, name, …) inside `for name in FIELDS` where FIELDS holds it."""
        if len(args) < 2 or not RUN_NAMES.search(_text(args[0])):
            return False
        looped = self.loop_fields.get(args[1].id, []) if isinstance(args[1], ast.Name) else []
        return "status" in self._fields(args[1]) or any("status" in fields for fields in looped)

    def visit_For(self, node: ast.For) -> None:
        if isinstance(node.target, ast.Name):
            self.loop_fields.setdefault(node.target.id, []).append(self._fields(node.iter))
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        a_run_status = bool(RUN_STATUSES.search(_text(node.value)))
        for target in node.targets:
            of_a_run = isinstance(target, ast.Attribute) and (a_run_status or RUN_NAMES.search(_text(target.value)))
            if isinstance(target, ast.Attribute) and target.attr == "status" and of_a_run:
                self._flag(node, ".status = …")
        self.generic_visit(node)

    def visit_Dict(self, node: ast.Dict) -> None:
        for key, value in zip(node.keys, node.values, strict=True):
            if isinstance(key, ast.Constant) and key.value == "status" and RUN_STATUSES.search(_text(value)):
                self._flag(node, '{"status": <a run or node status>}')
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        self._sql(node)

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        self._sql(node)
        self.generic_visit(node)

    def _sql(self, node: ast.AST) -> None:
        text = _string(node)
        if text and SQL_STATUS_WRITE.search(text):
            self._flag(node, "SQL that writes a status")

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._imports(node, alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            self._imports(node, f"{node.module}.{alias.name}")
            self._imports(node, node.module or "")

    def _imports(self, node: ast.AST, name: str) -> None:
        allowed = STATUS_SQL.get(name)
        if allowed is not None and not any(_within(self.module, path) for path in allowed):
            self._flag(node, f"imports {name}, which writes statuses")


def _within(module: str, path: str) -> bool:
    """`module` is `path`, or lies in it when `path` is a package (ends with "/")."""
    return module.startswith(path) if path.endswith("/") else module == path


def _owned(module: str) -> bool:
    return _within(module, OWNER)


def status_writes(module: str, source: str) -> list[str]:
    """Where `source` (the text of `module`, a path from the project root) writes a run's or node's status."""
    tree = ast.parse(source)
    scanner = _Scanner(module, tree)
    scanner.visit(tree)
    return scanner.found


def _modules() -> list[Path]:
    return [
        path for path in sorted(ROOT.rglob("*.py")) if not SKIPPED_DIRS.intersection(path.relative_to(ROOT).parts[:-1])
    ]


def _sql_module(path: str) -> bool:
    return path.replace("/", ".").removesuffix(".py") in STATUS_SQL


def _owner_modules() -> list[Path]:
    return [path for path in _modules() if _owned(path.relative_to(ROOT).as_posix())]


def test_it_finds_the_project_modules():
    found = {path.relative_to(ROOT).as_posix() for path in _modules()}
    assert {OWNER + "__init__.py", "engine/flow.py", "engine/partial_runs.py", "approvals/decisions.py"} <= found


def test_no_module_but_the_owner_writes_a_run_or_node_status():
    found = []
    for path in _modules():
        module = path.relative_to(ROOT).as_posix()
        if _owned(module) or _sql_module(module):
            continue
        found += status_writes(module, path.read_text())
    assert found == [], "only engine/runs/ may change a run's or a node's status:\n" + "\n".join(found)


def test_the_owner_writes_statuses_the_way_the_scan_looks_for():
    """If engine/runs/ wrote no status the scan can see, the scan would be looking for the wrong things."""
    found = []
    for path in _owner_modules():
        found += status_writes(path.relative_to(ROOT).as_posix(), path.read_text())
    assert found


@pytest.mark.parametrize(
    "source",
    [
        "NodeRun.objects.filter(pk=1).update(status=NodeStatus.SKIPPED)",
        "Run.objects.filter(pk=1).update(status='failed')",
        "nodes = NodeRun.objects.filter(run=run)\nnodes.update(status='cancelled')",
        "run.node_runs.update(status=x)",
        "NodeRun.objects.create(run=run, node_id='a', status=NodeStatus.RUNNING)",
        "NodeRun(run=run, node_id='a', status='running')",
        "NodeRun.objects.bulk_update(rows, ['status', 'output'])",
        "FIELDS = ('status', 'output')\nNodeRun.objects.bulk_update(rows, [*FIELDS])",
        "node_run.status = NodeStatus.SKIPPED\nnode_run.save()",
        "run.status = 'failed'",
        "for name in ('status',):\n    setattr(node_run, name, 1)",
        "step.set_run(status=RunStatus.FAILED)",
        "values = {'status': NodeStatus.FAILED}",
        "SQL = 'UPDATE engine_noderun SET wake_at = NULL, status = %s WHERE id = %s'",
        "sql = f'UPDATE engine_run SET {columns}, status = %(status)s WHERE id = %(id)s'",
        "from engine.sql import outcomes",
        "from engine.sql.claims import claim",
        "import engine.sql.outcomes",
    ],
)
def test_it_finds_a_status_write(source):
    assert status_writes("engine/flow.py", source), source


@pytest.mark.parametrize(
    "source",
    [
        "ApprovalRequest.objects.filter(pk=1, status=Status.PENDING).update(status=Status.APPROVED)",
        "Document.objects.filter(pk=1).update(status=status, progress=0)",
        "NodeRun.objects.filter(status=NodeStatus.RUNNING).update(lease_expires_at=now)",
        "SQL = 'SELECT status FROM engine_noderun WHERE status = %s'",
        "from engine.sql import readiness",
    ],
)
def test_it_leaves_other_statuses_and_reads_alone(source):
    assert status_writes("engine/flow.py", source) == []


@pytest.mark.parametrize(
    ("module", "allowed"),
    [
        ("engine/runs/outcomes.py", True),
        ("engine/runs/__init__.py", True),
        ("engine/runs.py", False),
        ("engine/runs_extra.py", False),
        ("engine/reaper.py", False),
    ],
)
def test_it_lets_only_the_owner_package_call_the_status_sql(module, allowed):
    assert (status_writes(module, "from engine.sql import outcomes") == []) is allowed
