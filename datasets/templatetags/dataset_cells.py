"""`{{ value|cell }}`: a JSON value as a table cell shows it (text as it is, anything else as JSON)."""

import json
from typing import Any

from django import template

register = template.Library()


@register.filter
def cell(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
