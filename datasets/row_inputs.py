"""A dataset's rows as a workflow's inputs: CSV text turned into the types the trigger's schema asks for,
then every row checked against that schema, each problem naming the row and the field."""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import jsonschema

from datasets.models import DatasetRow

# The most problems one refusal lists.
MAX_PROBLEMS = 100
TRUE_WORDS = frozenset({"true", "yes", "1"})
FALSE_WORDS = frozenset({"false", "no", "0"})


@dataclass(frozen=True)
class RowProblem:
    row: int  # 1-based, as the dataset's page numbers rows
    line: int  # in the uploaded file; 0 when the rows came from no file
    field: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"path": f"rows[{self.row - 1}].{self.field}".rstrip("."), **vars(self)}

    def __str__(self) -> str:
        where = f"row {self.row}" + (f" (line {self.line})" if self.line else "")
        return f"{where}, {self.field or 'the row'}: {self.message}"


class RowsMismatch(ValueError):
    """Rows that do not match the workflow's input schema; `problems` lists the first of them."""

    def __init__(self, problems: list[RowProblem], count: int) -> None:
        listed = "; ".join(str(problem) for problem in problems[:5])
        more = f"; and {count - 5} more" if count > 5 else ""
        rows = "rows do" if count != 1 else "row does"
        super().__init__(f"{count} {rows} not match the workflow's input: {listed}{more}")
        self.problems = problems
        self.count = count


def input_schema(graph: dict[str, Any]) -> dict[str, Any]:
    """The trigger's input schema in a published graph (validated when it was published)."""
    for node in graph.get("nodes", []):
        if node.get("type") == "trigger":
            schema = (node.get("params") or {}).get("input_schema")
            return schema if isinstance(schema, dict) and schema else {"type": "object"}
    return {"type": "object"}


def _types(declared: Any) -> list[str]:
    if isinstance(declared, str):
        return [declared]
    return [kind for kind in declared if isinstance(kind, str)] if isinstance(declared, list) else []


def _converted(text: str, types: list[str]) -> Any:
    """`text` as the first type it reads as; unchanged when none fits (the schema check then names it)."""
    word = text.strip()
    for kind in types:
        if kind == "string":
            return text
        if kind == "integer" and word.lstrip("+-").isdigit() and len(word) < 20:
            return int(word)
        if kind == "number":
            try:
                return int(word) if word.lstrip("+-").isdigit() and len(word) < 20 else float(word)
            except ValueError:
                continue
        if kind == "boolean" and word.lower() in TRUE_WORDS | FALSE_WORDS:
            return word.lower() in TRUE_WORDS
        if kind == "null" and not word:
            return None
    return text


def typed(row: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """A CSV row (all text) with the values the schema's top-level properties declare as numbers,
    booleans or null converted; an empty value of an optional property is left out."""
    found = schema.get("properties")
    properties: dict[str, Any] = found if isinstance(found, dict) else {}
    required = set(schema.get("required") or [])
    shaped: dict[str, Any] = {}
    for key, value in row.items():
        declared = properties.get(key)
        types = _types(declared.get("type")) if isinstance(declared, dict) else []
        if not isinstance(value, str) or not types or ("string" in types and value):
            shaped[key] = value
        elif value == "" and key not in required and "null" not in types:
            continue
        else:
            shaped[key] = _converted(value, types)
    return shaped


def _field(error: jsonschema.ValidationError) -> str:
    """The field at fault: where the error is, or for a missing property the first one missing."""
    path = [*map(str, error.path)]
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [name for name in error.validator_value if name not in error.instance]
        path += missing[:1]
    return ".".join(path)


def check(rows: Iterable[DatasetRow], schema: dict[str, Any], from_text: bool) -> list[dict[str, Any]]:
    """Each row as the workflow's input, in order; RowsMismatch when any does not match `schema`."""
    validator = jsonschema.Draft202012Validator(schema)
    inputs: list[dict[str, Any]] = []
    problems: list[RowProblem] = []
    count = 0
    for row in rows:
        data = typed(row.data, schema) if from_text else row.data
        errors = sorted(validator.iter_errors(data), key=lambda error: list(error.path))
        if errors:
            count += 1
            if len(problems) < MAX_PROBLEMS:
                problems.append(RowProblem(row.position + 1, row.line, _field(errors[0]), errors[0].message))
        inputs.append(data)
    if count:
        raise RowsMismatch(problems, count)
    return inputs
