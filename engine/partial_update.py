"""The body of a PATCH operation: a field left out keeps its value, a field sent as null is refused."""

from typing import Any, ClassVar

from ninja import Schema
from pydantic import ValidationInfo, field_validator


class PartialUpdate(Schema):
    """Fields default to None so that they may be left out; an explicit null would reach a NOT NULL
    column as a 500, so it is refused with the field's name unless the field is listed in `nullable`."""

    nullable: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name not in cls.nullable:
            raise ValueError("must not be null; leave the field out to keep its value")
        return value
