from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.nodes.llm import ModelParams, run_with_model
from engine.providers.base import ChatRequest, Passage
from engine.providers.calls import ModelCalls
from engine.registry import Node, NodeContext, NodeResult, register


class Rule(BaseModel):
    """A condition the run must meet to pass, e.g. the category not in [refund, legal]."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(default="", max_length=100)
    value: Any = Field(description="What to test, e.g. {{ nodes.classify.label }}")
    op: Literal["in", "not_in", "equals", "not_equals", "at_least", "at_most"] = "in"
    values: list[Any] = Field(default_factory=list)


class SelfRating(ModelParams):
    """Ask a model how well the draft answers the request (0-1)."""

    draft: str = Field(description="e.g. {{ nodes.generate.text }}")
    request: str = Field(default="", description="e.g. {{ input.body }}")
    weight: float = Field(default=1.0, ge=0)
    max_tokens: int = Field(default=100, ge=1, le=128_000)


class ConfidenceCheckParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    classifier_confidence: Any = Field(default=None, description="e.g. {{ nodes.classify.confidence }}")
    classifier_weight: float = Field(default=1.0, ge=0)
    retrieval_score: Any = Field(
        default=None, description="e.g. {{ nodes.retrieve.top_score }} (the best passage's score)"
    )
    retrieval_weight: float = Field(default=1.0, ge=0)
    self_rating: SelfRating | None = None
    threshold: float = Field(default=0.7, ge=0, le=1, description="The combined score must reach this to pass")
    min_classifier_confidence: float = Field(default=0.0, ge=0, le=1)
    min_retrieval_score: float = Field(default=0.0, ge=0, le=1)
    rules: list[Rule] = Field(default_factory=list, max_length=50)


@register
class ConfidenceCheck(Node):
    """Decides whether an answer may go out unreviewed.

    Combines the signals it is given (classifier confidence, top retrieval score, an optional
    model self-rating) into a weighted average, then checks it and each signal against its
    threshold and every rule. Output: score, passed, reasons (why it failed, or "all checks
    passed"), signals; the 'pass' or 'fail' handle. With no signal at all it fails.
    """

    kind = "confidence_check"
    label = "Confidence check"
    category = "AI"
    description = "Scores confidence from classifier, retrieval, self-rating and rules; pass or fail."
    Params = ConfidenceCheckParams
    outputs = ("pass", "fail")

    def run(self, ctx: NodeContext) -> NodeResult:
        params: ConfidenceCheckParams = ctx.params
        if params.self_rating is None:
            return _decide(params, {}, None)
        rating = params.self_rating
        result = run_with_model(ctx, self.kind, rating, lambda calls: {"rating": self_rate(calls, rating)})
        if result.handle == "error":
            return result
        return _decide(params, result.output, result.usage)


def self_rate(calls: ModelCalls, rating: SelfRating) -> float:
    schema = {
        "type": "object",
        "properties": {"rating": {"type": "number", "minimum": 0, "maximum": 1}},
        "required": ["rating"],
    }
    request = ChatRequest(
        model=rating.model,
        messages=(
            {
                "role": "system",
                "content": "Rate from 0 to 1 how well and how safely the draft answers the request. Answer JSON.",
            },
            {"role": "user", "content": f"Request:\n{rating.request}\n\nDraft:\n{rating.draft}"},
        ),
        temperature=rating.temperature,
        max_tokens=rating.max_tokens,
        schema=schema,
        passages=(Passage(text=rating.request),) if rating.request else (),
    )
    return float(calls.chat(rating.targets(), request).data["rating"])


def _number(value: Any) -> float | None:
    """A signal as a number in 0-1; None when it was not given or is not a number."""
    number = _number_or_none(value)
    return None if number is None else max(0.0, min(1.0, number))


def _decide(params: ConfidenceCheckParams, rated: dict[str, Any], usage: dict[str, Any] | None) -> NodeResult:
    signals: dict[str, float] = {}
    weights: dict[str, float] = {}
    reasons: list[str] = []
    for name, value, weight, minimum in (
        (
            "classifier_confidence",
            params.classifier_confidence,
            params.classifier_weight,
            params.min_classifier_confidence,
        ),
        ("retrieval_score", params.retrieval_score, params.retrieval_weight, params.min_retrieval_score),
    ):
        number = _number(value)
        if number is None:
            continue
        signals[name], weights[name] = number, weight
        if number < minimum:
            reasons.append(f"{name} {number:.2f} is below {minimum:.2f}")
    if params.self_rating is not None and (rating := _number(rated.get("rating"))) is not None:
        signals["self_rating"], weights["self_rating"] = rating, params.self_rating.weight
    total_weight = sum(weights.values())
    score = sum(signals[name] * weights[name] for name in signals) / total_weight if total_weight else 0.0
    if not signals:
        reasons.append("no confidence signal was given")
    elif score < params.threshold:
        reasons.append(f"score {score:.2f} is below the threshold {params.threshold:.2f}")
    reasons.extend(problem for rule in params.rules if (problem := _broken(rule)))
    passed = not reasons
    output = {
        "score": round(score, 4),
        "passed": passed,
        "reasons": reasons or ["all checks passed"],
        "signals": signals,
    }
    return NodeResult(output=output, handle="pass" if passed else "fail", usage=usage)


def _broken(rule: Rule) -> str | None:
    """Why the rule fails, or None when it holds."""
    name = rule.name or "rule"
    shown = f"{name}: {rule.value!r}"
    if rule.op in {"in", "not_in"}:
        inside = rule.value in rule.values
        if inside != (rule.op == "in"):
            return f"{shown} is {'not ' if rule.op == 'in' else ''}in {rule.values}"
        return None
    if rule.op in {"equals", "not_equals"}:
        same = bool(rule.values) and rule.value == rule.values[0]
        if same != (rule.op == "equals"):
            return f"{shown} {'does not equal' if rule.op == 'equals' else 'equals'} {rule.values[:1]}"
        return None
    number, bound = _number_or_none(rule.value), _number_or_none(rule.values[0] if rule.values else None)
    if number is None or bound is None:
        return f"{shown} cannot be compared with {rule.values[:1]}"
    if (rule.op == "at_least" and number < bound) or (rule.op == "at_most" and number > bound):
        return f"{shown} is {'below' if rule.op == 'at_least' else 'above'} {bound}"
    return None


def _number_or_none(value: Any) -> float | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
