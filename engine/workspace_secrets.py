"""Workspace secrets: create, rotate and delete them; resolve `{{ secrets.NAME }}` at call time; redact values.

A value is encrypted with engine/secrets.py and never read back out except to make an
outbound call. A node's params are rendered twice: with placeholders (`[secret NAME]`) for
everything that is stored (the recorded input, cache keys, events), and with the real values
only inside the node, just before the call, through `SecretsInUse.reveal`. Whatever the node
then produces (output, errors) passes through `redact` before it is stored.
"""

import copy
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote, quote_plus

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from pydantic import BaseModel, ValidationError

from engine import expressions, secrets
from engine.errors import NodeError, NonRetryableError
from engine.models import WorkspaceSecret

MIN_VALUE_CHARS = 4
MAX_VALUE_CHARS = 8000
MAX_SECRETS = 500
P = TypeVar("P", bound=BaseModel)


class SecretInvalid(ValueError):
    """A name or value is unacceptable; `field` names it for the form or the API's error."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def placeholder(name: str) -> str:
    """What stored copies show in place of the value."""
    return f"[secret {name}]"


def check_value(value: str) -> None:
    if not MIN_VALUE_CHARS <= len(value) <= MAX_VALUE_CHARS:
        # Short values would be redacted wherever they happen to occur in a node's output.
        raise SecretInvalid("value", f"must be {MIN_VALUE_CHARS} to {MAX_VALUE_CHARS} characters")
    if any(ch in value for ch in "\r\n\x00"):
        raise SecretInvalid("value", "must be one line: it is sent in URLs and headers")


def create(workspace_id: int, name: str, value: str, by: User | None) -> WorkspaceSecret:
    """A new secret; SecretInvalid for a bad or taken name or a bad value."""
    if not expressions.SECRET_NAME.match(name or ""):
        raise SecretInvalid("name", "use capital letters, digits and _, starting with a letter (e.g. CRM_API_KEY)")
    check_value(value)
    if WorkspaceSecret.objects.filter(workspace_id=workspace_id).count() >= MAX_SECRETS:
        raise SecretInvalid("name", f"a workspace holds at most {MAX_SECRETS} secrets")
    try:
        with transaction.atomic():
            return WorkspaceSecret.objects.create(
                workspace_id=workspace_id,
                name=name,
                value_encrypted=secrets.encrypt(value),
                created_by=by,
                updated_by=by,
            )
    except IntegrityError:
        raise SecretInvalid("name", f"this workspace already has a secret named {name}") from None


def rotate(secret: WorkspaceSecret, value: str, by: User | None) -> WorkspaceSecret:
    """Replace the value; runs that start calls from now on use the new one."""
    check_value(value)
    secret.value_encrypted = secrets.encrypt(value)
    secret.updated_by = by
    secret.save(update_fields=["value_encrypted", "updated_by", "updated_at"])
    return secret


def rotate_all() -> int:
    """Re-encrypt every stored secret under the newest credential key; how many there were."""
    count = 0
    for secret in WorkspaceSecret.objects.only("pk", "value_encrypted").iterator():
        WorkspaceSecret.objects.filter(pk=secret.pk).update(value_encrypted=secrets.rotate(secret.value_encrypted))
        count += 1
    return count


def names(workspace_id: int) -> set[str]:
    return set(WorkspaceSecret.objects.filter(workspace_id=workspace_id).values_list("name", flat=True))


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def referenced(value: Any) -> set[str]:
    """Secret names that the templates inside `value` (a param, say) refer to."""
    return {name for text in _strings(value) for name in expressions.referenced_secrets(text)}


def _values(workspace_id: int, wanted: set[str]) -> dict[str, str]:
    found = dict(
        WorkspaceSecret.objects.filter(workspace_id=workspace_id, name__in=wanted).values_list(
            "name", "value_encrypted"
        )
    )
    missing = sorted(wanted - set(found))
    if missing:
        raise missing_secret(missing[0])
    try:
        return {name: secrets.decrypt(token) for name, token in found.items()}
    except secrets.UnreadableSecret:
        raise NonRetryableError(
            "A secret cannot be decrypted with the configured CREDENTIAL_KEYS; an owner must enter it again, "
            "or the old key must be restored (docs/deploy.md)",
            code="unreadable_credentials",
        ) from None


def missing_secret(name: str) -> NonRetryableError:
    return NonRetryableError(
        f"The secret {name} does not exist in this workspace; an owner can add it under Settings → Secrets",
        code="unknown_secret",
    )


@dataclass
class SecretsInUse:
    """The secrets one node attempt refers to: placeholders to record, values revealed only to call out.

    templates: the node's raw params that refer to secrets, keyed by param name.
    scope: what those templates see besides `secrets` (trigger input, upstream outputs).
    revealed: every value handed out so far, by name, so that `redact` can take it out again.
    """

    workspace_id: int
    templates: dict[str, Any] = field(default_factory=dict)
    scope: dict[str, Any] = field(default_factory=dict)
    revealed: dict[str, str] = field(default_factory=dict)

    @property
    def names(self) -> set[str]:
        return referenced(self.templates)

    def placeholders(self) -> dict[str, str]:
        return {name: placeholder(name) for name in self.names}

    def check_exist(self) -> None:
        """NonRetryableError naming the first referenced secret the workspace does not have."""
        wanted = self.names
        if wanted:
            missing = sorted(wanted - names(self.workspace_id))
            if missing:
                raise missing_secret(missing[0])

    def values(self, wanted: set[str]) -> dict[str, str]:
        """The decrypted values of `wanted`, remembered for redaction."""
        found = _values(self.workspace_id, wanted) if wanted else {}
        self.revealed.update(found)
        return found

    def reveal(self, params: P) -> P:
        """`params` with the params that refer to secrets rendered again with the real values.

        Call it just before the outbound call and keep the result out of anything returned.
        """
        if not self.templates:
            return params
        scope = {**self.scope, "secrets": self.values(self.names)}
        try:
            rendered = {key: expressions.render(value, scope) for key, value in self.templates.items()}
        except expressions.ExpressionError as error:
            raise NonRetryableError(
                f"An expression failed: {self.redact(str(error))}", code="expression_error"
            ) from None
        try:
            return type(params).model_validate({**params.model_dump(), **rendered})
        except ValidationError as error:
            where = ", ".join(".".join(map(str, e["loc"])) for e in error.errors())
            raise NonRetryableError(
                f"With the secrets filled in, these params are invalid: {where}", code="bad_params"
            ) from None

    def redact(self, value: Any) -> Any:
        """`value` with every revealed secret (also URL-encoded) replaced by its placeholder."""
        return redact(value, self.revealed)

    def redact_error(self, error: NodeError) -> NodeError:
        text = str(error)
        clean = self.redact(text)
        if clean == text:
            return error
        # A copy keeps the error's type and attributes (retry hints, codes); only its words change.
        redacted = copy.copy(error)
        redacted.args = (clean,)
        redacted.details = self.redact(error.details)
        return redacted


def redact(value: Any, revealed: Mapping[str, str]) -> Any:
    """`value` (JSON data) with each of the `revealed` values replaced by `[secret NAME]`."""
    if not revealed:
        return value
    forms = sorted(
        (
            (form, placeholder(name))
            for name, plain in revealed.items()
            for form in {plain, quote(plain, safe=""), quote_plus(plain)}
        ),
        key=lambda pair: -len(pair[0]),
    )

    def clean(item: Any) -> Any:
        if isinstance(item, str):
            for form, shown in forms:
                if form in item:
                    item = item.replace(form, shown)
            return item
        if isinstance(item, Mapping):
            return {clean(key): clean(inner) for key, inner in item.items()}
        if isinstance(item, list | tuple):
            return [clean(inner) for inner in item]
        return item

    return clean(value)


# The secrets of the node running on this thread, for code that reaches them without the
# node's context (a model provider's headers, engine.providers.resolve).
in_use: ContextVar[SecretsInUse | None] = ContextVar("secrets_in_use", default=None)


def render_headers(workspace_id: int, headers: Mapping[str, str]) -> dict[str, str]:
    """Headers with `{{ secrets.NAME }}` filled in, for a provider's outbound calls."""
    wanted = referenced(dict(headers))
    if not wanted:
        return dict(headers)
    current = in_use.get()
    use = current if current is not None and current.workspace_id == workspace_id else SecretsInUse(workspace_id)
    scope = {"secrets": use.values(wanted)}
    try:
        return {
            name: str(expressions.render(value, scope)) if referenced(value) else value
            for name, value in headers.items()
        }
    except expressions.ExpressionError as error:
        raise NonRetryableError(
            f"A provider header's expression failed: {use.redact(str(error))}", code="expression_error"
        ) from None
