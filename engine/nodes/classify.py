import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from engine.nodes.llm import ModelNode, ModelParams
from engine.providers.base import ChatRequest, Label
from engine.providers.calls import ModelCalls
from engine.registry import register


class LabelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=2000)
    examples: list[str] = Field(default_factory=list, max_length=100)


class ClassifyParams(ModelParams):
    text: str = Field(description="What to classify, e.g. {{ input.subject }} {{ input.body }}")
    labels: list[LabelSpec] = Field(min_length=2, max_length=100)
    multi_label: bool = False
    threshold: float = Field(default=0.3, ge=0, le=1, description="With multi-label, every label scoring at least this")
    max_tokens: int = Field(default=300, ge=1, le=128_000)


@register
class Classify(ModelNode):
    """Picks the label whose description and examples fit the text best.

    Output: label, confidence (0-1), scores per label, and with multi-label `labels` (every
    label at or over the threshold). The built-in provider scores by TF-IDF similarity; a
    remote model answers JSON constrained to the label names. Fails on budget refusal or an
    unavailable model (retryable).
    """

    kind = "classify"
    label = "Classify"
    description = "Labels text by its labels' descriptions and examples, with a confidence."
    Params = ClassifyParams

    def ask(self, calls: ModelCalls, params: ClassifyParams) -> dict[str, Any]:
        return classify(calls, params)


def classify(calls: ModelCalls, params: ClassifyParams) -> dict[str, Any]:
    names = [label.name for label in params.labels]
    schema = {
        "type": "object",
        "properties": {
            "label": {"enum": names},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            "scores": {"type": "object", "additionalProperties": {"type": "number"}},
        },
        "required": ["label", "confidence"],
    }
    catalogue = "\n".join(
        f"- {label.name}: {label.description}" + (f" (e.g. {json.dumps(label.examples[:5])})" if label.examples else "")
        for label in params.labels
    )
    request = ChatRequest(
        model=params.model,
        messages=(
            {
                "role": "system",
                "content": "Classify the user's text into one of these labels. Answer JSON with the label, "
                f"your confidence from 0 to 1, and a score per label.\nLabels:\n{catalogue}",
            },
            {"role": "user", "content": params.text},
        ),
        temperature=params.temperature,
        max_tokens=params.max_tokens,
        schema=schema,
        labels=tuple(Label(label.name, label.description, tuple(label.examples)) for label in params.labels),
    )
    data = calls.chat(params.targets(), request).data
    scores = {name: float(data.get("scores", {}).get(name, 0.0)) for name in names}
    scores[data["label"]] = max(scores[data["label"]], float(data["confidence"]))
    output: dict[str, Any] = {"label": data["label"], "confidence": float(data["confidence"]), "scores": scores}
    if params.multi_label:
        output["labels"] = [name for name in names if scores[name] >= params.threshold] or [data["label"]]
    return output
