"""The database from the configuration: SQLite by default (DATABASE_PATH), PostgreSQL from
DATABASE_URL; a bad DATABASE_URL is a system check error naming it, without the password."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.checks import Error

from livy.checks import configuration_check
from myapp.config import SQLITE_INIT, database_settings, load_config

BASE = Path("/srv/livy-web")


@pytest.mark.parametrize(
    "url,expected",
    [
        ("mysql://livy:s3cret-pw@db:3306/livy", "must be a postgres://"),
        ("db.example.com/livy", "must be a postgres://"),
        ("postgres://livy:s3cret-pw@db:port/livy", "cannot be parsed"),
        ("postgres://livy:s3cret-pw@db:5432", "names no database"),
    ],
)
def test_bad_database_url_is_reported_without_the_password(url, expected):
    cfg, problems = load_config({"DATABASE_URL": url})
    assert [p.variable for p in problems] == ["DATABASE_URL"]
    assert expected in problems[0].message and "DATABASE_URL" in problems[0].message
    assert "s3cret-pw" not in problems[0].message + problems[0].hint
    assert cfg.DATABASE_URL == ""  # falls back to SQLite, and the check stops the server


def test_bad_database_url_is_a_system_check_error(settings):
    settings.CONFIG, settings.CONFIG_PROBLEMS = load_config(
        {"DATABASE_URL": "oracle://x:y@h/db", "DJANGO_SECRET": "s" * 50}
    )
    found = configuration_check(None)
    assert [(type(m), m.id, m.obj) for m in found] == [(Error, "livy.E001", "DATABASE_URL")]


def test_default_is_the_sqlite_file_with_lock_waiting():
    cfg, _ = load_config({})
    db = database_settings(cfg, BASE)
    assert db == {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": BASE / "db.sqlite3",
        "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": SQLITE_INIT},
    }
    cfg, _ = load_config({"DATABASE_PATH": "/var/lib/livy-web/db.sqlite3"})
    assert database_settings(cfg, BASE)["NAME"] == Path("/var/lib/livy-web/db.sqlite3")


@pytest.mark.django_db
def test_the_sqlite_file_runs_in_write_ahead_log_mode(tmp_path):
    """A connection made with these settings writes through a WAL (readers never block the
    writer; a commit needs no fsync of its own)."""
    from django.db.utils import ConnectionHandler

    cfg, _ = load_config({"DATABASE_PATH": str(tmp_path / "app.sqlite3")})
    handler = ConnectionHandler({"default": {**database_settings(cfg, BASE), "TIME_ZONE": None,
                                             "CONN_MAX_AGE": 0, "CONN_HEALTH_CHECKS": False, "AUTOCOMMIT": True,
                                             "ATOMIC_REQUESTS": False, "TEST": {}}})
    connection = handler["default"]
    try:
        with connection.cursor() as cursor:
            assert cursor.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert cursor.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    finally:
        connection.close()


def test_postgres_url_keeps_connections_and_has_no_sqlite_options():
    cfg, problems = load_config({"DATABASE_URL": "postgres://livy:p%40ss@db.example.com:6543/livyweb"})
    assert problems == []
    db = database_settings(cfg, BASE)
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["HOST"], db["PORT"], db["NAME"], db["USER"], db["PASSWORD"]) == (
        "db.example.com", 6543, "livyweb", "livy", "p@ss")
    assert (db["CONN_MAX_AGE"], db["CONN_HEALTH_CHECKS"]) == (60, True)
    assert db["OPTIONS"] == {"connect_timeout": 10}


def test_postgres_connection_settings_can_be_changed():
    cfg, problems = load_config({"DATABASE_URL": "postgresql://livy@db/livy?connect_timeout=3&sslmode=require",
                                 "DATABASE_CONN_MAX_AGE": "0"})
    assert problems == []
    db = database_settings(cfg, BASE)
    assert db["CONN_MAX_AGE"] == 0
    assert db["OPTIONS"] == {"connect_timeout": 3, "sslmode": "require"}


def test_sqlite_url_is_relative_to_the_project_folder():
    cfg, _ = load_config({"DATABASE_URL": "sqlite:///data/app.sqlite3"})
    db = database_settings(cfg, BASE)
    assert db["NAME"] == BASE / "data/app.sqlite3"
    assert db["OPTIONS"] == {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": SQLITE_INIT}


def test_the_test_settings_honour_database_url():
    engine = django_settings.DATABASES["default"]["ENGINE"]
    if os.environ.get("DATABASE_URL", "").startswith(("postgres", "pgsql")):
        assert engine == "django.db.backends.postgresql"
    else:
        assert engine == "django.db.backends.sqlite3"
