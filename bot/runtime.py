"""Assembling the bot from settings: database, configuration, workflows context, outbox senders.

Every entry point (console chat, HTTP, Socket Mode, CLI reports) builds the same ``Runtime``, so
they all behave alike; only the chat sender differs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

from sqlalchemy import Engine

from config.activity_settings import check_activities
from config.audit_settings import check_audits
from config.catalogue import Catalogue, load_catalogue
from config.errors import ConfigError
from config.organisation import Organisation, load_organisation
from config.settings import Settings
from config.templates import Templates
from integrations.graph import Microsoft365, graph_senders, mailbox_of
from integrations.graph import start as start_microsoft365
from integrations.trackers import tracker_senders
from storage import migrate, records
from storage.db import make_engine, make_read_sessions, make_sessions
from storage.models.outbox import OutboxEffect
from storage.outbox import Backoff, Dispatcher, Sender
from workflows.kernel.process import build_router
from workflows.kernel.routing import Router
from workflows.kernel.work import Context
from workflows.outreach.mail import mail_instead_of_dm
from workflows.registers.flows import check_configured_files, import_configured_files
from workflows.registry import PROCESSES

POOL_BESIDES_HTTP = 8
"""Database connections kept besides one per HTTP thread: intake workers, dispatcher, scheduler."""


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class LoadedConfig:
    org: Organisation
    catalogue: Catalogue
    templates: Templates


def load_config(settings: Settings) -> LoadedConfig:
    """Load and cross-check every configuration file; raises ConfigError naming file and key."""
    catalogue = load_catalogue(settings.catalogue_path)
    org = load_organisation(settings.config_path, set(catalogue.ids))
    check_activities(settings.config_path, org, catalogue)
    check_audits(settings.config_path, org, catalogue.ids)
    check_configured_files(org, settings.config_path)
    templates = Templates(settings.templates_path)
    templates.check()
    return LoadedConfig(org, catalogue, templates)


def prepare_database(engine: Engine) -> None:
    """SQLite (embedded) is upgraded on start; PostgreSQL must be upgraded deliberately.

    A database already at the newest revision, the usual start, is left alone without alembic.
    """
    if migrate.at_head(engine):
        return
    if engine.dialect.name == "sqlite":
        migrate.upgrade(engine)
        return
    expected = migrate.script_heads()
    if migrate.current_heads(engine) != expected:
        raise ConfigError(
            "ISMS_DATABASE_URL", [("", "the database schema is not up to date: run `isms-bot db upgrade`")]
        )


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    ctx: Context
    router: Router
    dispatcher: Dispatcher


ChatSenderFactory = Callable[[Context], Sender]


def mail_or_nothing(ctx: Context, effect: OutboxEffect) -> None:
    """The outbox's dead-letter path: a DM Slack refused for good because of the person goes by mail."""
    mail_instead_of_dm(ctx, effect)


def build_runtime(
    settings: Settings,
    chat_sender: ChatSenderFactory,
    *,
    clock: Callable[[], datetime] = utc_now,
    extra_senders: Mapping[str, Sender] | None = None,
    microsoft365: Microsoft365 | None = None,
) -> Runtime:
    config = load_config(settings)
    engine = make_engine(settings.database_url, connections=settings.http_threads + POOL_BESIDES_HTTP)
    prepare_database(engine)
    sessions = make_sessions(engine)
    ctx = Context(
        config.org,
        config.catalogue,
        sessions,
        config.templates,
        clock,
        anchors=records.Anchors.from_settings(settings),
        reads=make_read_sessions(engine),
        processes=PROCESSES,
    )
    senders: dict[str, Sender] = {"chat.message": chat_sender(ctx), **tracker_senders(settings, ctx)}
    m365 = microsoft365 if microsoft365 is not None else start_microsoft365(settings)
    ctx.directory = m365.directory
    senders.update(graph_senders(m365, config.org, clock))
    senders.update(extra_senders or {})
    dispatcher = Dispatcher(
        sessions,
        senders,
        clock,
        max_attempts=settings.outbox_max_attempts,
        backoff=Backoff(settings.outbox_backoff_base, settings.outbox_backoff_cap),
        rates=settings.outbox_rates,
        concurrency=settings.outbox_concurrency,
        # A DM Slack refuses for good (no such user, deactivated) goes out by mail instead, once, when
        # Microsoft 365 is configured (mail waits in the outbox while it is switched off).
        on_dead=partial(mail_or_nothing, ctx) if m365.client is not None and mailbox_of(config.org) else None,
    )
    ctx.on_commit = dispatcher.wake
    import_configured_files(ctx, settings.config_path)
    return Runtime(settings, engine, ctx, build_router(PROCESSES), dispatcher)
