"""The comparison's two hot statements as SQL: the candidate's results joined to the base's on their eval row.

A join lets PostgreSQL hash the base's 10,000 rows once; the ORM's correlated subquery per row was
planned on the (eval_run, index) index and read the base's rows again for every candidate row (21 s
for two 10,000-row runs, bench/eval_compare.py). Scorer names and ids are bound parameters; the
only SQL chosen from input is one of the fixed ROW_FILTERS.
"""

import json
from dataclasses import dataclass
from typing import Any

from django.db import connection

JOINED = """
FROM evals_evalresult b
JOIN evals_evalresult a ON a.row_id = b.row_id AND a.eval_run_id = %(base)s
WHERE b.eval_run_id = %(candidate)s
"""
ROW_FILTERS = {
    "all": "",
    "regressions": " AND a.passed AND NOT b.passed",
    "fixes": " AND NOT a.passed AND b.passed",
    "changed": " AND a.passed <> b.passed",
}


def _scorer_passed(side: str, param: str) -> str:
    """A scorer's `passed` in one side's scores as an SQL boolean (false when absent)."""
    if connection.vendor == "postgresql":
        return f"coalesce(({side}.scores -> %({param})s ->> 'passed') = 'true', false)"
    return f"coalesce(json_extract({side}.scores, %({param})s) = 1, 0)"


def _key(name: str) -> str:
    if connection.vendor == "postgresql":
        return name
    return '$."' + name.replace('"', '\\"') + '".passed'


@dataclass(frozen=True)
class Counts:
    compared: int
    regressions: int
    fixes: int
    # per scorer name: (regressed, fixed)
    scorers: dict[str, tuple[int, int]]


def counts(base_id: int, candidate_id: int, names: list[str]) -> Counts:
    """Rows both runs ran, rows that regressed and were fixed overall, and per scorer, in one statement."""
    params: dict[str, Any] = {"base": base_id, "candidate": candidate_id}
    columns = [
        "count(*)",
        "count(*) FILTER (WHERE a.passed AND NOT b.passed)",
        "count(*) FILTER (WHERE NOT a.passed AND b.passed)",
    ]
    for i, name in enumerate(names):
        params[f"s{i}"] = _key(name)
        was, now = _scorer_passed("a", f"s{i}"), _scorer_passed("b", f"s{i}")
        columns += [f"count(*) FILTER (WHERE {was} AND NOT {now})", f"count(*) FILTER (WHERE NOT {was} AND {now})"]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(columns)} {JOINED}", params)
        row = cursor.fetchone()
    flips = {name: (row[3 + 2 * i], row[4 + 2 * i]) for i, name in enumerate(names)}
    return Counts(row[0], row[1], row[2], flips)


@dataclass(frozen=True)
class PairRow:
    index: int
    input: Any
    expected: Any
    output: Any
    scores: dict[str, Any]
    passed: bool
    base_passed: bool
    base_output: Any
    base_scores: dict[str, Any]


def _json(value: Any) -> Any:
    # Django reads JSON columns as text on both backends and parses them in JSONField; raw rows do it here.
    return json.loads(value) if isinstance(value, str) else value


def page(base_id: int, candidate_id: int, only: str, limit: int, after: int) -> list[PairRow]:
    """Up to `limit` pairs after row index `after`: a cursor, so a late page reads no more rows than the first
    (an OFFSET joined and sorted every row before it)."""
    # "index" is quoted: a keyword in SQLite (the embedded mode), where b.index is a syntax error.
    sql = (
        'SELECT b."index", b.input, b.expected, b.output, b.scores, b.passed, a.passed, a.output, a.scores'
        f' {JOINED} AND b."index" > %(after)s{ROW_FILTERS[only]} ORDER BY b."index" LIMIT %(limit)s'
    )
    params = {"base": base_id, "candidate": candidate_id, "limit": limit, "after": after}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall()
    return [
        PairRow(
            index=row[0],
            input=_json(row[1]),
            expected=_json(row[2]),
            output=_json(row[3]),
            scores=_json(row[4]) or {},
            passed=bool(row[5]),
            base_passed=bool(row[6]),
            base_output=_json(row[7]),
            base_scores=_json(row[8]) or {},
        )
        for row in found
    ]


def score_counts(base_id: int, candidate_id: int) -> list[tuple[int, str, float, int]]:
    """(eval run, scorer, score rounded to 0.1, rows) over every scorer of both runs, reading each row's scores
    once: one query per scorer and run parsed the JSON of every row six times over (bench/eval_compare.py)."""
    if connection.vendor == "postgresql":
        sql = (
            "SELECT r.eval_run_id, s.key, round((s.value ->> 'score')::numeric, 1), count(*)"
            " FROM evals_evalresult r, jsonb_each(r.scores) s"
            " WHERE r.eval_run_id IN (%(base)s, %(candidate)s) AND jsonb_typeof(s.value -> 'score') = 'number'"
            " GROUP BY 1, 2, 3"
        )
    else:
        sql = (
            "SELECT r.eval_run_id, s.key, round(json_extract(s.value, '$.score'), 1), count(*)"
            " FROM evals_evalresult r, json_each(r.scores) s WHERE r.eval_run_id IN (%(base)s, %(candidate)s)"
            " AND json_type(s.value, '$.score') IN ('integer', 'real') GROUP BY 1, 2, 3"
        )
    with connection.cursor() as cursor:
        cursor.execute(sql, {"base": base_id, "candidate": candidate_id})
        return [(row[0], row[1], float(row[2]), row[3]) for row in cursor.fetchall()]
