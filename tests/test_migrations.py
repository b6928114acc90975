"""Alembic migrations build the same schema as the models, on empty SQLite and PostgreSQL databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from typer.testing import CliRunner

from bot.cli import app
from storage import migrate
from storage.db import make_engine
from storage.models import Base


def assert_schema_matches_models(url: str) -> None:
    engine = make_engine(url)
    migrate.upgrade(engine)
    assert migrate.current_heads(engine) == migrate.script_heads()
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert differences == []


def test_empty_sqlite_upgrades_to_the_models(tmp_path):
    assert_schema_matches_models(f"sqlite:///{tmp_path / 'empty.db'}")


def test_empty_postgresql_upgrades_to_the_models(postgres_url):
    assert_schema_matches_models(postgres_url)


def test_upgrade_twice_is_harmless(tmp_path):
    url = f"sqlite:///{tmp_path / 'twice.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    migrate.upgrade(engine)
    assert {"records", "outbox", "deliveries"} <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_db_upgrade_command(postgres_url):
    result = CliRunner().invoke(app, ["db", "upgrade"], env={"ISMS_DATABASE_URL": postgres_url})
    assert result.exit_code == 0, result.output
    assert "Database at revision" in result.output
    engine = make_engine(postgres_url)
    assert "records" in inspect(engine).get_table_names()
    engine.dispose()


def test_sqlite_settings_are_applied(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'pragmas.db'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    engine.dispose()
