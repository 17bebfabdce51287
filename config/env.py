"""Typed readers for environment settings; a bad value stops startup with a message naming the variable."""

import os
from collections.abc import Mapping
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", ""})


class Env:
    """Reads one mapping of variables (os.environ by default) so tests can pass their own."""

    def __init__(self, source: Mapping[str, str] | None = None) -> None:
        self.source = os.environ if source is None else source

    def is_set(self, name: str) -> bool:
        return bool(self.source.get(name, "").strip())

    def text(self, name: str, default: str = "") -> str:
        return self.source.get(name, default).strip() or default

    def required(self, name: str, why: str) -> str:
        value = self.text(name)
        if not value:
            raise ImproperlyConfigured(f"{name} must be set: {why}")
        return value

    def file(self, name: str) -> str:
        """A path to a readable file, or "" when the variable is unset."""
        path = self.text(name)
        if path and not os.access(path, os.R_OK):
            raise ImproperlyConfigured(f"{name}={path!r} is not a readable file")
        return path

    def flag(self, name: str, default: bool = False) -> bool:
        raw = self.source.get(name)
        if raw is None:
            return default
        word = raw.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean: use one of 1/0, true/false, yes/no, on/off")

    def integer(self, name: str, default: int, minimum: int = 0, maximum: int = 2**31) -> int:
        raw = self.source.get(name)
        if raw is None or not raw.strip():
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number") from None
        if not minimum <= value <= maximum:
            raise ImproperlyConfigured(f"{name}={value} is out of range: it must be between {minimum} and {maximum}")
        return value

    def items(self, name: str, default: list[str]) -> list[str]:
        raw = self.source.get(name)
        if raw is None or not raw.strip():
            return default
        return [item.strip() for item in raw.split(",") if item.strip()]

    def fernet_keys(self, name: str) -> list[str]:
        """Comma-separated Fernet keys (urlsafe base64 of 32 bytes), each checked now rather than at first use."""
        from cryptography.fernet import Fernet

        found = self.items(name, [])
        for position, key in enumerate(found, start=1):
            try:
                Fernet(key)
            except ValueError:
                raise ImproperlyConfigured(
                    f"{name}: key {position} is not a Fernet key (make one with "
                    "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`)"
                ) from None
        return found

    def origins(self, name: str, default: list[str]) -> list[str]:
        values = self.items(name, default)
        for value in values:
            parts = urlsplit(value)
            if parts.scheme not in {"http", "https"} or not parts.netloc or parts.path not in {"", "/"}:
                raise ImproperlyConfigured(
                    f"{name} has {value!r}: each entry must be an origin such as https://switchyard.example.com"
                )
        return values

    def url(self, name: str, schemes: set[str]) -> str:
        raw = self.text(name)
        if not raw:
            return ""
        parts = urlsplit(raw)
        if parts.scheme not in schemes or not parts.hostname:
            allowed = ", ".join(sorted(schemes))
            raise ImproperlyConfigured(
                f"{name} must be a URL with a host and one of the schemes {allowed}; got scheme {parts.scheme!r}"
            )
        return raw
