"""Checking and saving provider configurations; the API key is encrypted here and never read back out."""

from typing import Any
from urllib.parse import urlsplit

from engine import secrets
from engine.models import ProviderConfig
from engine.providers import BUILTIN

# Credentials go in the write-only API key, never in headers that forms and the API show.
SECRET_HEADERS = frozenset({"authorization", "api-key", "x-api-key", "proxy-authorization", "cookie"})
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
    if url is not None and (urlsplit(url).scheme not in {"http", "https"} or not urlsplit(url).hostname):
        raise ConfigInvalid("base_url", "must be an http:// or https:// URL, e.g. https://api.openai.com/v1")
    for field in ("chat_models", "embedding_models"):
        models = values.get(field)
        if models is not None and (len(models) > MAX_MODELS or any(not m or len(m) > 200 for m in models)):
            raise ConfigInvalid(field, f"at most {MAX_MODELS} model names of 1 to 200 characters")
    for header in values.get("headers") or {}:
        if header.lower() in SECRET_HEADERS:
            raise ConfigInvalid("headers", f"{header} carries a credential: put the key in the API key field")


def save(
    workspace_id: int, values: dict[str, Any], api_key: str | None, config: ProviderConfig | None = None
) -> ProviderConfig:
    """Create or update; `api_key` None keeps the stored key, "" removes it, anything else replaces it."""
    check(workspace_id, values, config)
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
