import json
from typing import Any

from pydantic import Field, field_validator

from engine.nodes.generate import valid_schema
from engine.nodes.llm import ModelNode, ModelParams
from engine.providers.base import ChatRequest
from engine.providers.calls import ModelCalls
from engine.registry import register


class ExtractParams(ModelParams):
    text: str = Field(description="The text to read, e.g. {{ input.body }}")
    fields: dict[str, Any] = Field(description="A JSON Schema of type object naming the fields to extract")
    instructions: str = Field(default="", max_length=4000)

    @field_validator("fields")
    @classmethod
    def _object_schema(cls, schema: dict[str, Any]) -> dict[str, Any]:
        if schema.get("type") != "object" or not isinstance(schema.get("properties"), dict):
            raise ValueError('must be a JSON Schema with "type": "object" and "properties"')
        valid_schema(schema)
        return schema


@register
class Extract(ModelNode):
    """Reads the fields a JSON Schema names out of a text.

    Output: `fields` (an object valid against the schema) and the provider and model that
    answered. The built-in provider takes labelled lines ("Order: 1234"), e-mail addresses,
    numbers and the nearest sentences; a remote model answers with constrained JSON, repaired
    once if it is off-schema.
    """

    kind = "extract"
    label = "Extract"
    description = "Pulls structured fields out of text by a JSON Schema."
    Params = ExtractParams
    literal_params = frozenset({"fields"})

    def ask(self, calls: ModelCalls, params: ExtractParams) -> dict[str, Any]:
        return extract(calls, params)


def extract(calls: ModelCalls, params: ExtractParams) -> dict[str, Any]:
    instruction = "Extract these fields from the user's text as JSON" + (
        f". {params.instructions}" if params.instructions else ""
    )
    request = ChatRequest(
        model=params.model,
        messages=(
            {"role": "system", "content": f"{instruction}\nSchema: {json.dumps(params.fields)}"},
            {"role": "user", "content": params.text},
        ),
        temperature=params.temperature,
        max_tokens=params.max_tokens,
        schema=params.fields,
    )
    answer = calls.chat(params.targets(), request)
    last = calls.log[-1] if calls.log else {}
    return {"fields": answer.data, "provider": last.get("provider"), "model": last.get("model")}
