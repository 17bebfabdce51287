"""Checking and saving provider configurations; the API key is encrypted here and never read back out."""

import re
from typing import Any
from urllib.parse import urlsplit

from accounts.models import Workspace
from engine import outbound, secrets
from engine.errors import NodeError
from engine.models import ProviderConfig
from engine.providers import BUILTIN

# Header names a provider may send, besides what the SDK sets. An allowlist, because a header
# sent with every model call is as good as a credential if it names one (Authorization, Cookie).
PLAIN_HEADERS = frozenset({"openai-organization", "openai-project", "openai-beta", "http-referer", "x-title"})
# Credentials some servers want in a header of their own (Azure's api-key, gateways' keys): the value
# must be a workspace secret, `{{ secrets.NAME }}`, so forms and the API show only its name.
SENSITIVE_HEADERS = frozenset({"api-key", "x-api-key", "helicone-auth", "x-portkey-api-key"})
SECRET_REFERENCE = re.compile(r"\{\{\s*secrets\.[A-Za-z_][A-Za-z0-9_]*\s*\}\}")
# Where a stored key is sent: changing one of these without entering the key again removes it.
KEY_BOUND_FIELDS = ("base_url", "kind", "headers")
MAX_MODELS = 100


class ConfigInvalid(ValueError):
    """A value is unacceptable; `field` names it for the form or the API's error."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def check(workspace_id: int, values: dict[str, Any], config: ProviderConfig | None = None) -> None:
    """Raises ConfigInvalid for the first bad value among name, base_url, models and headers."""
    name = values.get("name")
    if name is not None:
        if name == BUILTIN:
            raise ConfigInvalid("name", f"{BUILTIN!r} is the built-in provider's name")
        taken = ProviderConfig.objects.filter(workspace_id=workspace_id, name=name)
        if config is not None:
            taken = taken.exclude(pk=config.pk)
        if taken.exists():
            raise ConfigInvalid("name", f"this workspace already has a provider named {name!r}")
    url = values.get("base_url")
    if url is not None:
        _check_base_url(workspace_id, url)
    for field in ("chat_models", "embedding_models"):
        models = values.get(field)
        if models is not None and (len(models) > MAX_MODELS or any(not m or len(m) > 200 for m in models)):
            raise ConfigInvalid(field, f"at most {MAX_MODELS} model names of 1 to 200 characters")
    for header, value in (values.get("headers") or {}).items():
        name = header.lower()
        if name in SENSITIVE_HEADERS and not SECRET_REFERENCE.fullmatch(value.strip()):
            raise ConfigInvalid("headers", f"{header} carries a credential: its value must be {{{{ secrets.NAME }}}}")
        if name not in PLAIN_HEADERS | SENSITIVE_HEADERS:
            allowed = ", ".join(sorted(PLAIN_HEADERS | SENSITIVE_HEADERS))
            raise ConfigInvalid("headers", f"{header} is not a header a provider may send; allowed: {allowed}")


def _check_base_url(workspace_id: int, url: str) -> None:
    """The outbound guard's answer now, at save; every call checks again (DNS may change)."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigInvalid("base_url", "must be an http:// or https:// URL, e.g. https://api.openai.com/v1")
    allowlist = Workspace.objects.filter(pk=workspace_id).values_list("http_allowlist", flat=True).first() or []
    try:
        outbound.check_destination(url, allowlist)
    except outbound.BlockedDestination as error:
        raise ConfigInvalid("base_url", str(error)) from None
    except NodeError:
        pass  # a name that does not resolve here yet (internal DNS): each call is checked when it is made


def headers_to_send(headers: dict[str, str]) -> dict[str, str]:
    """The stored headers a call may send: rows saved before the allowlist keep only allowed names."""
    return {name: value for name, value in headers.items() if name.lower() in PLAIN_HEADERS | SENSITIVE_HEADERS}


def _moves_the_key(config: ProviderConfig, values: dict[str, Any]) -> bool:
    return any(field in values and values[field] != getattr(config, field) for field in KEY_BOUND_FIELDS)


def save(
    workspace_id: int, values: dict[str, Any], api_key: str | None, config: ProviderConfig | None = None
) -> ProviderConfig:
    """Create or update; `api_key` None keeps the stored key, "" removes it, anything else replaces it.

    A change of where or how the key is sent (base URL, kind, headers) with no new key removes the
    stored one: whoever may edit a provider must not be able to point its key at a server of theirs.
    """
    check(workspace_id, values, config)
    if config is not None and api_key is None and _moves_the_key(config, values):
        api_key = ""
    config = config or ProviderConfig(workspace_id=workspace_id)
    for field, value in values.items():
        setattr(config, field, value)
    if api_key is not None:
        config.api_key_encrypted = secrets.encrypt(api_key) if api_key else ""
    config.save()
    return config


def rotate_all() -> int:
    """Re-encrypt every stored key under the first CREDENTIAL_KEYS key; how many were rewritten."""
    rotated = 0
    for config in ProviderConfig.objects.exclude(api_key_encrypted="").only("pk", "api_key_encrypted"):
        ProviderConfig.objects.filter(pk=config.pk).update(api_key_encrypted=secrets.rotate(config.api_key_encrypted))
        rotated += 1
    return rotated
