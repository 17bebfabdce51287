import subprocess

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import Env
from tests.workers import run_python


def test_it_reads_booleans_in_the_usual_spellings():
    env = Env({"A": "yes", "B": "0", "C": " TRUE "})
    assert (env.flag("A"), env.flag("B"), env.flag("C"), env.flag("MISSING", True)) == (True, False, True, True)


def test_it_names_the_variable_of_a_bad_boolean():
    with pytest.raises(ImproperlyConfigured, match=r"DEBUG='maybe' is not a boolean"):
        Env({"DEBUG": "maybe"}).flag("DEBUG")


def test_it_checks_whole_numbers_and_their_range():
    assert Env({"N": "42"}).integer("N", 1) == 42
    with pytest.raises(ImproperlyConfigured, match="N='lots' is not a whole number"):
        Env({"N": "lots"}).integer("N", 1)
    with pytest.raises(ImproperlyConfigured, match="N=5 is out of range"):
        Env({"N": "5"}).integer("N", 1, minimum=10)


def test_it_splits_lists_and_checks_origins():
    env = Env({"HOSTS": "a.example, b.example,,", "ORIGINS": "https://a.example,http://localhost:8000"})
    assert env.items("HOSTS", []) == ["a.example", "b.example"]
    assert env.origins("ORIGINS", []) == ["https://a.example", "http://localhost:8000"]
    with pytest.raises(ImproperlyConfigured, match=r"CSRF_TRUSTED_ORIGINS has 'a\.example/path'"):
        Env({"CSRF_TRUSTED_ORIGINS": "a.example/path"}).origins("CSRF_TRUSTED_ORIGINS", [])


def test_it_checks_url_schemes_without_echoing_the_url():
    with pytest.raises(ImproperlyConfigured) as caught:
        Env({"DATABASE_URL": "mysql://root:hunter2@db/app"}).url("DATABASE_URL", {"postgres", "postgresql"})
    assert "DATABASE_URL must be a URL" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_it_requires_a_value_with_a_reason():
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY must be set: it signs"):
        Env({}).required("SECRET_KEY", "it signs")


def load_settings(tmp_path, **variables: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "SWITCHYARD_DATA_DIR": str(tmp_path), **variables}
    code = "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='config.settings'; django.setup(); print('loaded')"
    return run_python(code, env)


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"DATABASE_URL": "postgres://db/app"}, "Set both DATABASE_URL and REDIS_URL"),
        ({"DATABASE_URL": "postgres://db/app", "REDIS_URL": "redis://r:6379/0"}, "SECRET_KEY must be set"),
        ({"DEBUG": "sometimes"}, "DEBUG='sometimes' is not a boolean"),
        ({"REDIS_URL": "http://r:6379", "DATABASE_URL": "postgres://db/app"}, "REDIS_URL must be a URL"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY is too short"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL='LOUD' is not one of"),
    ],
)
def test_it_stops_startup_with_a_clear_message(tmp_path, variables, message):
    result = load_settings(tmp_path, **variables)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_it_starts_embedded_with_nothing_set(tmp_path):
    result = load_settings(tmp_path)
    assert result.stdout.strip() == "loaded", result.stderr
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_it_checks_that_a_file_setting_names_a_readable_file(tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    assert Env({"OUTBOUND_CA_BUNDLE": str(bundle)}).file("OUTBOUND_CA_BUNDLE") == str(bundle)
    assert Env({}).file("OUTBOUND_CA_BUNDLE") == ""
    with pytest.raises(ImproperlyConfigured, match=r"OUTBOUND_CA_BUNDLE='/nowhere/ca\.pem' is not a readable file"):
        Env({"OUTBOUND_CA_BUNDLE": "/nowhere/ca.pem"}).file("OUTBOUND_CA_BUNDLE")
