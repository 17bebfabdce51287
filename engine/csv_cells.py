"""Cells of the CSV files pages export (costs, batch results, eval results), safe to open in a spreadsheet."""

import json
from typing import Any

# A spreadsheet runs a cell that starts with one of these as a formula; the text is user or model output.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def inert(cell: Any) -> Any:
    """The cell as text a spreadsheet shows rather than evaluates (OWASP "CSV injection")."""
    return f"'{cell}" if isinstance(cell, str) and cell.startswith(FORMULA_STARTS) else cell


def text(value: Any) -> str:
    """A JSON value as one inert cell: nothing for null, text as it is, anything else as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return inert(value)
    return json.dumps(value, ensure_ascii=False)
