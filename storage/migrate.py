"""Run Alembic migrations from code, so ``isms-bot db upgrade`` and first start need no alembic.ini.

Alembic is imported only when there is something to migrate or to explain: every start checks the
schema, and on a database already at the newest revision that check is one SELECT of the version row
against the revision lines of the scripts (``at_head``), not alembic's import and script loading,
which were a tenth of ``serve``'s start-up. Anything that check cannot read plainly goes to alembic.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

from storage.db import normalise_url

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "alembic_version"  # alembic's default; storage/migrations/env.py keeps it
_REVISION_LINE = re.compile(r"^(revision|down_revision)\s*(?::[^=\n]*)?=\s*(.+?)\s*$", re.MULTILINE)


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def upgrade(engine: Engine, revision: str = "heads") -> None:
    """Bring the database to the newest schema, on the engine's own connection."""
    from alembic import command

    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_heads(engine: Engine) -> set[str]:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return set(MigrationContext.configure(connection).get_current_heads())


def script_heads() -> set[str]:
    """The newest revisions this code ships."""
    from alembic.script import ScriptDirectory

    return set(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


def shipped_heads() -> set[str] | None:
    """``script_heads`` read from the scripts' ``revision``/``down_revision`` lines, without alembic.

    None when a script's lines are not plain literals on one line each (then only alembic can say).
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        found = dict(_REVISION_LINE.findall(path.read_text(encoding="utf-8")))
        if not found:
            continue  # not a revision (``__init__.py``)
        try:
            revision = ast.literal_eval(found["revision"])
            down = ast.literal_eval(found.get("down_revision", "None"))
        except (KeyError, ValueError, SyntaxError):
            return None
        if not isinstance(revision, str):
            return None
        revisions.add(revision)
        parents.update([down] if isinstance(down, str) else down or ())
    return revisions - parents


def stored_heads(engine: Engine) -> set[str]:
    """The revisions the database's version table names; empty for a database never migrated."""
    with engine.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return set()
        return {str(row[0]) for row in connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))}


def at_head(engine: Engine) -> bool:
    """True when the database is certainly at the newest revision; False when alembic must look."""
    shipped = shipped_heads()
    return bool(shipped) and stored_heads(engine) == shipped
