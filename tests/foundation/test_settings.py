"""Settings come from the environment; a bad value stops start-up and names the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "x" * 20 + "-production-secret-key-that-is-long-enough-0123456789",
    "ALLOWED_HOSTS": "engage.example.com",
    "FIELD_ENCRYPTION_KEYS": "1QjJ2l0v9mYtqTjG2Z6v2nX3k3m5oVbG2u5Dq8c9Yhk=",
    "PUBLIC_BASE_URL": "https://engage.example.com",
}
# Development mode is asked for; blank values hide whatever a developer's .env / .env.local would fill in.
DEVELOPMENT = {"DEBUG": "true", "SECRET_KEY": "", "FIELD_ENCRYPTION_KEYS": ""}


def _run(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {*PRODUCTION, "DATABASE_URL", "REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    clean.update({"TESTING": "false", **env})
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120
    )


def _load_settings(**env: str) -> subprocess.CompletedProcess[str]:
    return _run("import whatsapp_project.settings as s; print(s.DEBUG)", **env)


def test_debug_is_off_unless_asked_for() -> None:
    result = _load_settings(**{k: v for k, v in PRODUCTION.items() if k != "DEBUG"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_with_no_environment_at_all_start_up_refuses_for_want_of_a_secret_key() -> None:
    result = _load_settings(SECRET_KEY="", FIELD_ENCRYPTION_KEYS="")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr.strip().splitlines()[-1]


def test_development_without_encryption_keys_refuses_pointing_at_make_run() -> None:
    # The key was once derived from the development SECRET_KEY written in settings.py: anyone could decrypt.
    result = _load_settings(**DEVELOPMENT)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert "FIELD_ENCRYPTION_KEYS" in last and "make run" in last


def test_tests_generate_an_encryption_key_of_their_own_each_time() -> None:
    code = "import whatsapp_project.settings as s; print(s.DEBUG, s.FIELD_ENCRYPTION_KEYS)"
    first = _run(code, SECRET_KEY="", FIELD_ENCRYPTION_KEYS="", DEBUG="", TESTING="true")
    second = _run(code, SECRET_KEY="", FIELD_ENCRYPTION_KEYS="", DEBUG="", TESTING="true")
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("True ")
    assert first.stdout != second.stdout


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({**PRODUCTION, "SECRET_KEY": ""}, "SECRET_KEY"),
        ({**PRODUCTION, "SECRET_KEY": "short"}, "SECRET_KEY"),
        ({**PRODUCTION, "ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS"),
        ({**PRODUCTION, "FIELD_ENCRYPTION_KEYS": ""}, "FIELD_ENCRYPTION_KEYS"),
        ({**PRODUCTION, "FIELD_ENCRYPTION_KEYS": "not-a-key"}, "FIELD_ENCRYPTION_KEYS"),
        ({"DEBUG": "maybe"}, "DEBUG"),
        ({**PRODUCTION, "DATABASE_URL": "nosuchdb://x/y"}, "DATABASE_URL"),
        ({**PRODUCTION, "PUBLIC_BASE_URL": "example.com/no-scheme"}, "PUBLIC_BASE_URL"),
        ({**PRODUCTION, "NEXMO_API_BASE_URL": "ftp://api.nexmo.com"}, "NEXMO_API_BASE_URL"),
        ({**PRODUCTION, "NEXMO_ALLOWED_BASE_URLS": "ftp://127.0.0.1"}, "NEXMO_ALLOWED_BASE_URLS"),
        ({**PRODUCTION, "NEXMO_ALLOWED_BASE_URLS": "http://127.0.0.1:8025/path"}, "NEXMO_ALLOWED_BASE_URLS"),
        ({**PRODUCTION, "REDIS_URL": "localhost:6379"}, "REDIS_URL"),
        ({**PRODUCTION, "Q_TIMEOUT": "900", "Q_RETRY": "600"}, "Q_TIMEOUT"),
        ({**PRODUCTION, "NEXMO_READ_TIMEOUT": "soon"}, "NEXMO_READ_TIMEOUT"),
    ],
)
def test_a_bad_setting_stops_start_up_naming_the_variable(env: dict[str, str], named: str) -> None:
    result = _load_settings(**env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert named in result.stderr.strip().splitlines()[-1]


def test_production_settings_load_when_complete() -> None:
    result = _load_settings(**PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def _database_url() -> str:
    """The test database, so that the checks reading the database read one with the schema and no rows."""
    from urllib.parse import quote

    from django.db import connection

    database = connection.settings_dict
    user, password = quote(database["USER"] or "", safe=""), quote(database["PASSWORD"] or "", safe="")
    return (
        f"postgres://{user}:{password}@{database['HOST'] or '127.0.0.1'}:{database['PORT'] or 5432}/{database['NAME']}"
    )


@pytest.mark.django_db
def test_check_deploy_is_clean_with_production_settings() -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={
            **{k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}},
            **PRODUCTION,
            "DATABASE_URL": _database_url(),
            "TESTING": "false",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_redis_url_switches_the_broker_and_cache_to_redis() -> None:
    code = (
        "import whatsapp_project.settings as s; "
        "print(s.Q_CLUSTER.get('redis'), 'orm' in s.Q_CLUSTER, s.CACHES['default']['BACKEND'])"
    )
    result = _run(code, **PRODUCTION, REDIS_URL="redis://127.0.0.1:6379/15")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "redis://127.0.0.1:6379/15",
        "False",
        "django.core.cache.backends.redis.RedisCache",
    ]


def test_without_redis_the_orm_broker_is_the_default() -> None:
    code = "import whatsapp_project.settings as s; print(s.Q_CLUSTER.get('orm'), 'redis' in s.Q_CLUSTER)"
    result = _run(code, **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["default", "False"]


def test_task_timeout_stays_below_retry_with_attempts_capped() -> None:
    result = _run(
        "import whatsapp_project.settings as s; q = s.Q_CLUSTER; print(q['timeout'] < q['retry'], q['max_attempts'])",
        **PRODUCTION,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "3"]


@pytest.mark.parametrize("url", ["sqlite:///db.sqlite3", "mysql://root@127.0.0.1/test"])
def test_another_database_engine_is_refused_saying_postgresql_is_required(url: str) -> None:
    result = _load_settings(**PRODUCTION, DATABASE_URL=url)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert "DATABASE_URL" in last and "PostgreSQL is required" in last


def test_x_forwarded_proto_is_not_trusted_by_default() -> None:
    from django.test import RequestFactory

    request = RequestFactory().get("/", HTTP_X_FORWARDED_PROTO="https")
    assert request.is_secure() is False


@pytest.mark.parametrize(
    ("behind_proxy", "expected"), [("", "None"), ("false", "None"), ("true", "HTTP_X_FORWARDED_PROTO")]
)
def test_x_forwarded_proto_is_trusted_only_behind_a_proxy(behind_proxy: str, expected: str) -> None:
    code = "import whatsapp_project.settings as s; print((getattr(s, 'SECURE_PROXY_SSL_HEADER', None) or [None])[0])"
    result = _run(code, **PRODUCTION, BEHIND_PROXY=behind_proxy)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected
