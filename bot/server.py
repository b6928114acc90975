"""Running the bot against Slack: HTTP mode (waitress) or Socket Mode, with the outbox dispatcher.

``BotServer`` is what ``isms-bot serve`` runs and what the end-to-end tests start on an ephemeral
port, so tests exercise the same assembly as production.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import datetime

import waitress
from slack_bolt import App

from bot.http import WsgiApp, make_wsgi
from bot.logging_setup import configure_logging
from bot.scheduler import BotScheduler
from bot.runtime import Runtime, build_runtime, utc_now
from bot.slack.app import build_app
from bot.slack.blocks import fallback_text, message_blocks
from config.errors import ConfigError
from config.settings import Settings
from integrations.jira_webhook import webhook_routes
from integrations.slack_files import SlackFileSender
from integrations.slack_profiles import slack_timezones
from integrations.slack_sender import SlackChatSender, make_web_client
from storage.outbox import Sender

log = logging.getLogger(__name__)


def _require(settings: Settings, *names: str) -> None:
    missing = [name for name in names if getattr(settings, name) is None]
    if missing:
        problems = [(name.upper(), "is required for this mode") for name in missing]
        raise ConfigError("environment", problems)


def build_slack(
    settings: Settings,
    *,
    clock: Callable[[], datetime] = utc_now,
    extra_senders: Mapping[str, Sender] | None = None,
) -> tuple[Runtime, App]:
    """The runtime with Slack as its chat, and the Bolt app on top of it."""
    _require(settings, "slack_bot_token", "slack_signing_secret")
    assert settings.slack_bot_token is not None and settings.slack_signing_secret is not None
    client = make_web_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_url)
    runtime = build_runtime(
        settings,
        lambda ctx: SlackChatSender(client, ctx.org, message_blocks, fallback_text),
        clock=clock,
        extra_senders={"slack.file": SlackFileSender(client, settings.slack_bot_token.get_secret_value(),
                                                     settings.slack_api_url), **(extra_senders or {})},
    )
    app = build_app(runtime.ctx, runtime.router, client, settings.slack_signing_secret.get_secret_value())
    return runtime, app


class BotServer:
    """HTTP mode: the WSGI app on waitress plus the dispatcher thread."""

    def __init__(self, settings: Settings, host: str = "127.0.0.1", port: int = 0, threads: int = 8,
                 *, clock: Callable[[], datetime] = utc_now, extra_routes: Mapping[tuple[str, str], WsgiApp] | None = None):
        self.runtime, self.app = build_slack(settings, clock=clock)
        routes = {**webhook_routes(settings, self.runtime.ctx), **(extra_routes or {})}
        self.wsgi = make_wsgi(self.app, self.runtime.engine, self.runtime.ctx.sessions, routes)
        self._server = waitress.create_server(self.wsgi, host=host, port=port, threads=threads)
        self.scheduler = BotScheduler(self.runtime.ctx, self.runtime.engine, timezones=slack_timezones(self.app.client))
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        return f"http://{self._server.effective_host}:{self._server.effective_port}"

    def start(self) -> BotServer:
        self._threads = [
            threading.Thread(target=self._server.run, name="http", daemon=True),
            threading.Thread(target=self.runtime.dispatcher.run_forever, args=(self._stop,), name="outbox", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        self.scheduler.start()
        return self

    def stop(self) -> None:
        self.scheduler.stop()
        self._stop.set()
        self.runtime.dispatcher.wake()
        self._server.close()
        for thread in self._threads:
            thread.join(timeout=5)
        self.runtime.engine.dispose()

    def __enter__(self) -> BotServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def run_http(settings: Settings, host: str, port: int, threads: int) -> None:
    configure_logging(settings)
    server = BotServer(settings, host, port, threads)
    log.info("ISMS bot listening on %s", server.url)
    server.start()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


def run_socket(settings: Settings) -> None:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    configure_logging(settings)
    _require(settings, "slack_app_token")
    assert settings.slack_app_token is not None
    runtime, app = build_slack(settings)
    stop = threading.Event()
    threading.Thread(target=runtime.dispatcher.run_forever, args=(stop,), name="outbox", daemon=True).start()
    scheduler = BotScheduler(runtime.ctx, runtime.engine, timezones=slack_timezones(app.client)).start()
    try:
        SocketModeHandler(app, settings.slack_app_token.get_secret_value()).start()
    finally:
        scheduler.stop()
        stop.set()
