"""Template filters for showing runs."""

from datetime import datetime

from django import template

register = template.Library()


@register.filter
def elapsed(started: datetime | None, finished: datetime | None) -> str:
    """ "850 ms", "12.4 s", "3 min 5 s" between two times; an em dash while unknown."""
    if started is None or finished is None:
        return "—"
    seconds = (finished - started).total_seconds()
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest} s"
