"""SECURE=1: HTTPS redirect, HSTS and HTTPS-only cookies, computed from the environment at startup."""

import json
import subprocess

from tests.workers import run_python

# Runs in a fresh process, since settings are read once: reports the settings and what the
# security middleware answers to plain and HTTPS requests for a page and for the health check.
PROBE = """
import django, json, os
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
django.setup()
from django.conf import settings
from django.test import Client

names = ["SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD",
         "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_PROXY_SSL_HEADER", "SECURE_REDIRECT_EXEMPT"]
client = Client(HTTP_HOST="localhost")
plain, health = client.get("/accounts/login/"), client.get("/healthz")
https = client.get("/accounts/login/", secure=True)
print(json.dumps({
    "settings": {name: getattr(settings, name) for name in names},
    "plain": [plain.status_code, plain.headers.get("Location")],
    "health": health.status_code,
    "hsts": https.headers.get("Strict-Transport-Security"),
}))
"""


def start(tmp_path, **variables: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "SWITCHYARD_DATA_DIR": str(tmp_path), **variables}
    return run_python(PROBE, env)


def started(tmp_path, **variables: str) -> dict:
    result = start(tmp_path, **variables)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_it_redirects_to_https_and_sends_hsts_when_secure(tmp_path):
    found = started(tmp_path, SECURE="1")
    assert found["settings"] == {
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31_536_000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": False,
        "SECURE_HSTS_PRELOAD": False,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_PROXY_SSL_HEADER": None,
        "SECURE_REDIRECT_EXEMPT": ["^healthz$", "^readyz$", "^metrics$"],
    }
    assert found["plain"] == [301, "https://localhost/accounts/login/"]
    assert found["health"] == 200  # load balancers probe over plain HTTP
    assert found["hsts"] == "max-age=31536000"


def test_it_lets_the_operator_widen_or_shorten_hsts(tmp_path):
    found = started(tmp_path, SECURE="yes", HSTS_SECONDS="600", HSTS_INCLUDE_SUBDOMAINS="1", HSTS_PRELOAD="on")
    assert found["hsts"] == "max-age=600; includeSubDomains; preload"


def test_it_serves_plain_http_without_secure(tmp_path):
    found = started(tmp_path)
    assert found["settings"]["SECURE_SSL_REDIRECT"] is False
    assert found["settings"]["SECURE_HSTS_SECONDS"] == 0
    assert found["plain"] == [200, None]
    assert found["hsts"] is None


def test_it_trusts_the_proxy_scheme_header_only_when_told(tmp_path):
    found = started(tmp_path, SECURE="1", BEHIND_TLS_PROXY="1")
    assert found["settings"]["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]


def test_it_refuses_secure_with_plain_cookies(tmp_path):
    result = start(tmp_path, SECURE="1", SECURE_COOKIES="false")
    assert result.returncode != 0
    assert "SECURE=1 needs HTTPS-only cookies" in result.stderr


def test_it_names_a_bad_hsts_value(tmp_path):
    result = start(tmp_path, SECURE="1", HSTS_SECONDS="forever")
    assert result.returncode != 0
    assert "HSTS_SECONDS='forever' is not a whole number" in result.stderr
