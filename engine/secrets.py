"""Credentials encrypted at rest with MultiFernet: the first key encrypts, every key decrypts.

Keys come from CREDENTIAL_KEYS (comma-separated Fernet keys, newest first). Without it one
key is derived from SECRET_KEY, so the embedded mode works with no setup. Rotation: put a
new key first, run `manage.py rotate_credentials`, then drop the old key (docs/deploy.md).
"""

import base64
import hashlib
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class UnreadableSecret(Exception):
    """No configured key decrypts this value: a key was removed before rotating."""


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def keys() -> tuple[str, ...]:
    if settings.CREDENTIAL_KEYS:
        return tuple(settings.CREDENTIAL_KEYS)
    derived = hashlib.sha256(b"switchyard-credentials:" + settings.SECRET_KEY.encode()).digest()
    return (base64.urlsafe_b64encode(derived).decode(),)


def encrypt(plain: str) -> str:
    return _fernet(keys()).encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet(keys()).decrypt(token.encode()).decode()
    except InvalidToken:
        raise UnreadableSecret("no configured credential key decrypts this value") from None


def rotate(token: str) -> str:
    """The value re-encrypted under the first key."""
    try:
        return _fernet(keys()).rotate(token.encode()).decode()
    except InvalidToken:
        raise UnreadableSecret("no configured credential key decrypts this value") from None
