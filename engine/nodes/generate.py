from typing import Any

from pydantic import Field, field_validator

from engine.nodes.llm import ModelNode, ModelParams, passages
from engine.providers import structured
from engine.providers.base import SOURCES_HEADER, ChatRequest
from engine.providers.calls import ModelCalls
from engine.registry import register


def valid_schema(schema: dict[str, Any] | None) -> dict[str, Any] | None:
    if schema is not None:
        try:
            structured.check_schema(schema)
        except Exception as error:  # noqa: BLE001  (jsonschema raises its own SchemaError; the message is the point)
            raise ValueError(f"not a valid JSON Schema: {getattr(error, 'message', error)}") from None
    return schema


class GenerateParams(ModelParams):
    system: str = Field(default="", description="Instructions; may hold {{ }} templates")
    prompt: str = Field(description="The request, e.g. a ticket: {{ input.body }}")
    passages: Any = Field(
        default=None, description="Retrieved context to cite, e.g. {{ nodes.retrieve.passages }} ({text, title, ...})"
    )
    stop: list[str] = Field(default_factory=list, max_length=4)
    output_schema: dict[str, Any] | None = Field(default=None, description="Answer JSON valid against this schema")

    _schema = field_validator("output_schema")(valid_schema)


@register
class Generate(ModelNode):
    """Asks a model for text (or JSON against `output_schema`) from a system and a user prompt.

    Output: text, data (with a schema), sources (the passages given), provider and model; the
    usage keeps every call's prompt, answer, tokens, cost, latency and cache flag. Passages are
    numbered into the prompt so the model can cite them; the built-in provider composes its
    answer from their sentences. A plain-text answer streams to the run's viewers as it is
    written (text deltas, never stored). Fails on budget refusal, an unavailable model
    (retryable) or an answer that stays off-schema after one repair.
    """

    kind = "generate"
    label = "Generate"
    description = "Drafts text or JSON with a model, citing retrieved passages."
    Params = GenerateParams
    literal_params = frozenset({"output_schema"})

    def ask(self, calls: ModelCalls, params: GenerateParams) -> dict[str, Any]:
        return generate(calls, params)


def generate(calls: ModelCalls, params: GenerateParams) -> dict[str, Any]:
    context = passages(params.passages)
    prompt = params.prompt
    if context:
        numbered = "\n\n".join(
            f"[{number}] {passage.title or passage.source}\n{passage.text}" for number, passage in enumerate(context, 1)
        )
        prompt = f"{prompt}{SOURCES_HEADER}{numbered}"
    messages = ({"role": "system", "content": params.system},) if params.system else ()
    request = ChatRequest(
        model=params.model,
        messages=(*messages, {"role": "user", "content": prompt}),
        temperature=params.temperature,
        max_tokens=params.max_tokens,
        stop=tuple(params.stop),
        schema=params.output_schema,
        passages=context,
    )
    target = params.targets()
    answer = calls.chat(target, request, stream=True)
    last = calls.log[-1] if calls.log else {}
    return {
        "text": answer.text,
        "data": answer.data,
        "sources": [{"number": n, "title": p.title, "source": p.source} for n, p in enumerate(context, 1)],
        "provider": last.get("provider", params.provider),
        "model": last.get("model", params.model),
    }
