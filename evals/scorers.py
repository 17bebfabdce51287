"""Scorers: what each kind needs (checked when a scorer is saved) and how a row's output is scored.

Every kind compares the value at the scorer's `field` in the row's output (evals/scoring.py reads
it, `nodes.<id>.…` from one node's output) with the value at its `expected_field` (default: the
same path) in the row's expected value. Exact, contains, regex, JSON Schema and number score
1 or 0; similarity scores the cosine of the two texts' embeddings (evals/similarity.py); the judge
scores 0/1 (pass/fail) or 1-5 (evals/judges.py); those two are billed model calls. A row passes a
scorer when its score is at least the threshold.
"""

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jsonschema
import regex

from datasets.results import pick
from engine.providers import BUILTIN, BUILTIN_CHAT_MODEL, BUILTIN_EMBEDDING_MODEL
from evals.models import ScorerKind

MAX_PATTERN = 1000
# A regex scorer's search of one output, at most (the `regex` package stops it; Python's `re` cannot be stopped).
REGEX_SECONDS = 0.5
FIELD_PATH = re.compile(r"^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*$")
SCALES = {"pass_fail": (0.0, 1.0), "1-5": (1.0, 5.0)}


class ScorerInvalid(ValueError):
    """A scorer that cannot be saved; `field` names the field at fault (`config.pattern`, `threshold`…)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field


@dataclass(frozen=True)
class ScorerSpec:
    """A scorer as eval runs use it (copied onto the eval run when it starts)."""

    name: str
    kind: str
    field: str
    config: dict[str, Any]
    threshold: float
    expected_field: str = ""

    def as_dict(self) -> dict[str, Any]:
        return vars(self).copy()


@dataclass(frozen=True)
class Score:
    """One scorer's verdict on one row; an errored score (the judge could not answer) is neither pass nor fail."""

    score: float | None
    passed: bool
    errored: bool = False
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return vars(self).copy()


def as_text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False)


def value_at(value: Any, path: str) -> Any:
    return pick(value, path) if path else value


def expected_value(spec: ScorerSpec, expected: Any) -> Any:
    return value_at(expected, spec.expected_field or spec.field)


def checked(spec: ScorerSpec) -> ScorerSpec:
    """The spec with its config cleaned; ScorerInvalid naming the field that is wrong."""
    if not spec.name.strip() or len(spec.name) > 100:
        raise ScorerInvalid("name", "give the scorer a name of at most 100 characters")
    if spec.kind not in ScorerKind.values:
        raise ScorerInvalid("kind", f"{spec.kind!r} is not a scorer kind; choose one of {', '.join(ScorerKind.values)}")
    for name, path in (("field", spec.field), ("expected_field", spec.expected_field)):
        if path and (len(path) > 200 or not FIELD_PATH.match(path)):
            raise ScorerInvalid(name, f"{path[:50]!r} is not a field path such as category or nodes.classify.label")
    config = CONFIG_CHECKS[spec.kind](dict(spec.config or {}))
    low, high = SCALES.get(config.get("scale", ""), (0.0, 1.0))
    if not (math.isfinite(spec.threshold) and low <= spec.threshold <= high):
        raise ScorerInvalid("threshold", f"the threshold of a {spec.kind} scorer is from {low:g} to {high:g}")
    return ScorerSpec(spec.name.strip(), spec.kind, spec.field, config, spec.threshold, spec.expected_field)


def _no_config(config: dict[str, Any]) -> dict[str, Any]:
    return {"ignore_case": bool(config.get("ignore_case", False))}


def _contains(config: dict[str, Any]) -> dict[str, Any]:
    text = config.get("text", "")
    if not isinstance(text, str) or len(text) > MAX_PATTERN:
        raise ScorerInvalid("config.text", f"text to look for: at most {MAX_PATTERN} characters (blank: the expected)")
    return {"text": text, "ignore_case": bool(config.get("ignore_case", False))}


def _regex(config: dict[str, Any]) -> dict[str, Any]:
    pattern = config.get("pattern")
    if not isinstance(pattern, str) or not pattern or len(pattern) > MAX_PATTERN:
        raise ScorerInvalid("config.pattern", f"give a regular expression of at most {MAX_PATTERN} characters")
    try:
        regex.compile(pattern)
    except regex.error as error:
        raise ScorerInvalid("config.pattern", f"the regular expression does not compile: {error}") from None
    return {"pattern": pattern, "ignore_case": bool(config.get("ignore_case", False))}


def _json_schema(config: dict[str, Any]) -> dict[str, Any]:
    schema = config.get("schema")
    if not isinstance(schema, dict):
        raise ScorerInvalid("config.schema", "give a JSON Schema (an object)")
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as error:
        raise ScorerInvalid("config.schema", f"not a valid JSON Schema: {error.message}") from None
    return {"schema": schema}


def _number(config: dict[str, Any]) -> dict[str, Any]:
    tolerance = config.get("tolerance", 0)
    if isinstance(tolerance, bool) or not isinstance(tolerance, int | float) or not 0 <= tolerance < math.inf:
        raise ScorerInvalid("config.tolerance", "the tolerance is a number of at least 0")
    return {"tolerance": tolerance, "relative": bool(config.get("relative", False))}


def _provider_model(config: dict[str, Any], default_model: str) -> tuple[str, str]:
    provider = config.get("provider") or BUILTIN
    model = config.get("model") or (default_model if provider == BUILTIN else "")
    if not isinstance(provider, str) or len(provider) > 100:
        raise ScorerInvalid("config.provider", "name a model provider of the workspace")
    if not isinstance(model, str) or not model or len(model) > 200:
        raise ScorerInvalid("config.model", f"name a model of provider {provider!r}")
    return provider, model


def _similarity(config: dict[str, Any]) -> dict[str, Any]:
    """No provider and no model: the workspace's embedding model, read when an eval run starts."""
    if not config.get("provider") and not config.get("model"):
        return {}
    provider, model = _provider_model(config, BUILTIN_EMBEDDING_MODEL)
    return {"provider": provider, "model": model}


def _judge(config: dict[str, Any]) -> dict[str, Any]:
    provider, model = _provider_model(config, BUILTIN_CHAT_MODEL)
    rubric = config.get("rubric")
    if not isinstance(rubric, str) or not rubric.strip() or len(rubric) > 4000:
        raise ScorerInvalid("config.rubric", "write the rubric the judge applies (at most 4,000 characters)")
    scale = config.get("scale", "pass_fail")
    if scale not in SCALES:
        raise ScorerInvalid("config.scale", "the scale is pass_fail or 1-5")
    return {"provider": provider, "model": model, "rubric": rubric.strip(), "scale": scale}


def check_models(spec: ScorerSpec, offered: list[dict[str, Any]]) -> None:
    """A judge or similarity scorer names a provider of the workspace (`offered`: engine.providers.catalog), and
    for the built-in one a model it has; ScorerInvalid naming the field if not. Other providers may serve models
    their configuration does not list, so those names are the provider's to refuse, at the call."""
    provider = spec.config.get("provider")
    if spec.kind not in (ScorerKind.JUDGE, ScorerKind.SIMILARITY) or not provider:
        return
    entry = next((entry for entry in offered if entry["name"] == provider), None)
    if entry is None:
        raise ScorerInvalid("config.provider", f"there is no provider named {provider!r} in this workspace")
    builtin_models = entry["models"] if spec.kind == ScorerKind.JUDGE else entry["embedding_models"]
    if provider == BUILTIN and spec.config["model"] not in builtin_models:
        raise ScorerInvalid("config.model", f"the built-in provider's model here is {builtin_models[0]!r}")


CONFIG_CHECKS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    ScorerKind.EXACT: _no_config,
    ScorerKind.CONTAINS: _contains,
    ScorerKind.REGEX: _regex,
    ScorerKind.JSON_SCHEMA: _json_schema,
    ScorerKind.NUMBER: _number,
    ScorerKind.SIMILARITY: _similarity,
    ScorerKind.JUDGE: _judge,
}


def _verdict(spec: ScorerSpec, score: float, detail: str = "") -> Score:
    return Score(score, score >= spec.threshold, detail=detail)


def score_plain(spec: ScorerSpec, got: Any, want: Any) -> Score:
    """The score of `got` (the output's value) against `want` (the expected value) by every kind but similarity
    and the judge, which are billed model calls (evals/similarity.py, evals/judges.py)."""
    config = spec.config
    fold: Callable[[str], str] = str.casefold if config.get("ignore_case") else str
    if spec.kind == ScorerKind.EXACT:
        same = fold(got) == fold(want) if isinstance(got, str) and isinstance(want, str) else got == want
        return _verdict(spec, float(same))
    if spec.kind == ScorerKind.CONTAINS:
        needle = config["text"] or as_text(want)
        return _verdict(spec, float(bool(needle) and fold(needle) in fold(as_text(got))))
    if spec.kind == ScorerKind.REGEX:
        return _regex_score(spec, as_text(got))
    if spec.kind == ScorerKind.JSON_SCHEMA:
        error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(config["schema"]).iter_errors(got))
        return _verdict(spec, float(error is None), error.message if error else "")
    if spec.kind == ScorerKind.NUMBER:
        return _number_score(spec, got, want)
    raise ValueError(f"{spec.kind} is not scored here")


def _regex_score(spec: ScorerSpec, text: str) -> Score:
    """Whether the pattern occurs in `text`, within REGEX_SECONDS: a pattern that backtracks without end (an
    editor's `(a|aa)+$`) would otherwise hold the worker that scores the row; it is errored, not failed."""
    flags = regex.IGNORECASE if spec.config["ignore_case"] else 0
    try:
        found = regex.search(spec.config["pattern"], text, flags, timeout=REGEX_SECONDS)
    except TimeoutError:
        return Score(None, False, errored=True, detail=f"the regular expression ran longer than {REGEX_SECONDS:g} s")
    return _verdict(spec, float(found is not None))


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _number_score(spec: ScorerSpec, got: Any, want: Any) -> Score:
    number, target = _as_number(got), _as_number(want)
    if number is None or target is None:
        return _verdict(spec, 0.0, f"{as_text(got)[:50]!r} is not a number" if number is None else "no expected number")
    allowed = spec.config["tolerance"] * (abs(target) if spec.config["relative"] else 1)
    return _verdict(spec, float(abs(number - target) <= allowed), f"off by {abs(number - target):g}")
