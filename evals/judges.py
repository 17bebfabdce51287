"""Model-as-judge: a model scores a row's output against the expected value and a rubric.

The call goes through the scoring node's ModelCalls, so it is budgeted and billed like any model
call, to the eval run (whose purpose marks it as evaluation spend). A call that fails - the
provider is down, the budget is spent, the answer is not a score - makes the row's score
errored, not failed.

The built-in provider has no language model: its judge is offline and deterministic. It asks
the built-in classifier whether the output reads like the expected answer and the rubric
(label `pass`) or like neither (`fail`); pass/fail is that label, and the 1-5 scale is
1 + 4 x the share of `pass` in its scores.
"""

import json
from typing import Any

from engine.errors import NodeError
from engine.providers import BUILTIN
from engine.providers.base import ChatRequest, Label
from engine.providers.calls import ModelCalls, Target
from evals.scorers import Score, ScorerSpec

OFFLINE_LABEL = "built-in offline judge (deterministic word overlap, no language model)"
MAX_TEXT = 8000
INSTRUCTIONS = (
    "You are an evaluation judge. Score the OUTPUT of a workflow against the EXPECTED answer and the RUBRIC. "
    'Answer with JSON only: {{"score": <{scale}>, "reason": <one sentence>}}.'
)
SCALE_WORDS = {"pass_fail": "1 for pass or 0 for fail", "1-5": "an integer from 1 (worst) to 5 (best)"}


def _text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text[:MAX_TEXT]


def judge(calls: ModelCalls, spec: ScorerSpec, input: Any, output: Any, expected: Any) -> Score:
    """The judge's score of one row's `output` value against its `expected` value; errored (with the reason)
    when the call or its answer fails."""
    config = spec.config
    got, want = _text(output), _text(expected)
    try:
        if config["provider"] == BUILTIN:
            score = _offline(calls, config, got, want)
        else:
            score = _remote(calls, config, _text(input), got, want)
    except NodeError as error:
        return Score(None, False, errored=True, detail=f"the judge failed: {error}")
    return Score(score, score >= spec.threshold)


def _offline(calls: ModelCalls, config: dict[str, Any], got: str, want: str) -> float:
    labels = (Label("fail", "wrong unrelated"), Label("pass", f"{want}\n{config['rubric']}"))
    request = ChatRequest(model=config["model"], messages=({"role": "user", "content": got},), labels=labels)
    data = calls.chat([Target(BUILTIN, config["model"])], request).data
    if config["scale"] == "pass_fail":
        return 1.0 if data["label"] == "pass" else 0.0
    return float(1 + round(4 * data["scores"]["pass"]))


def _remote(calls: ModelCalls, config: dict[str, Any], input: str, got: str, want: str) -> float:
    scale = config["scale"]
    low, high = (0, 1) if scale == "pass_fail" else (1, 5)
    schema = {
        "type": "object",
        "properties": {"score": {"type": "integer", "minimum": low, "maximum": high}, "reason": {"type": "string"}},
        "required": ["score", "reason"],
    }
    prompt = f"RUBRIC:\n{config['rubric']}\n\nINPUT:\n{input}\n\nEXPECTED:\n{want}\n\nOUTPUT:\n{got}"
    messages = (
        {"role": "system", "content": INSTRUCTIONS.format(scale=SCALE_WORDS[scale])},
        {"role": "user", "content": prompt},
    )
    request = ChatRequest(model=config["model"], messages=messages, schema=schema, max_tokens=200)
    data = calls.chat([Target(config["provider"], config["model"])], request).data
    score = data.get("score") if isinstance(data, dict) else None
    if isinstance(score, bool) or not isinstance(score, int) or not low <= score <= high:
        raise NodeError(f"the judge answered {str(data)[:100]!r}, not a score from {low} to {high}")
    return float(score)
