"""Alembic environment: uses the connection handed in by storage.migrate, or the configured URL."""

from __future__ import annotations

from alembic import context

from storage.db import make_engine
from storage.models import Base
from storage.models.base import UtcDateTime

config = context.config
target_metadata = Base.metadata


def render_item(type_: str, obj: object, autogen_context) -> str | bool:  # type: ignore[no-untyped-def]
    """Write our UTC column type as a plain timezone-aware DateTime, so migrations never import models."""
    if type_ == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


OPTIONS = {"target_metadata": target_metadata, "render_as_batch": True, "render_item": render_item}


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, **OPTIONS)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    with engine.begin() as conn:
        context.configure(connection=conn, **OPTIONS)
        with context.begin_transaction():
            context.run_migrations()


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
