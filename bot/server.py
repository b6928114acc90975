"""Running the bot against Slack: HTTP mode (waitress) or Socket Mode, with the outbox dispatcher.

``BotServer`` is what ``isms-bot serve`` runs and what the end-to-end tests start on an ephemeral
port, so tests exercise the same assembly as production.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from datetime import datetime

import waitress
from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler

from bot.http import WsgiApp, make_wsgi
from bot.logging_setup import configure_logging
from bot.runtime import Runtime, build_runtime, utc_now
from bot.scheduler import BotScheduler
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
        extra_senders={
            "slack.file": SlackFileSender(client, settings.slack_bot_token.get_secret_value(), settings.slack_api_url),
            **(extra_senders or {}),
        },
    )
    app = build_app(runtime.ctx, runtime.router, client, settings.slack_signing_secret.get_secret_value())
    return runtime, app


class SlackBot(ABC):
    """What every Slack mode runs: the runtime, the Bolt app, the outbox dispatcher and the scheduler."""

    def __init__(self, settings: Settings, *, clock: Callable[[], datetime] = utc_now):
        self.runtime, self.app = build_slack(settings, clock=clock)
        self.scheduler = BotScheduler(self.runtime.ctx, self.runtime.engine, timezones=slack_timezones(self.app.client))
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @abstractmethod
    def _serve(self) -> None:
        """Start receiving Slack's requests (the mode's own part)."""

    @abstractmethod
    def _close(self) -> None:
        """Stop receiving Slack's requests."""

    def start(self) -> SlackBot:
        dispatcher = threading.Thread(
            target=self.runtime.dispatcher.run_forever, args=(self._stop,), name="outbox", daemon=True
        )
        dispatcher.start()
        self._threads.append(dispatcher)
        self.scheduler.start()
        self._serve()
        return self

    def stop(self) -> None:
        self._close()
        self.scheduler.stop()
        self._stop.set()
        self.runtime.dispatcher.wake()
        for thread in self._threads:
            thread.join(timeout=5)
        self.runtime.engine.dispose()

    def __enter__(self) -> SlackBot:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def run_until_interrupted(self) -> None:
        self.start()
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            self.stop()


class BotServer(SlackBot):
    """HTTP mode: Slack events, webhooks, health and metrics on waitress."""

    def __init__(
        self,
        settings: Settings,
        host: str = "127.0.0.1",
        port: int = 0,
        threads: int = 8,
        *,
        clock: Callable[[], datetime] = utc_now,
        extra_routes: Mapping[tuple[str, str], WsgiApp] | None = None,
    ):
        super().__init__(settings, clock=clock)
        routes = {**webhook_routes(settings, self.runtime.ctx), **(extra_routes or {})}
        self.wsgi = make_wsgi(self.app, self.runtime.engine, self.runtime.ctx.sessions, routes)
        self._server = waitress.create_server(self.wsgi, host=host, port=port, threads=threads)
        self._closing = False

    @property
    def url(self) -> str:
        return f"http://{self._server.effective_host}:{self._server.effective_port}"

    def _serve(self) -> None:
        http = threading.Thread(target=self._run, name="http", daemon=True)
        http.start()
        self._threads.append(http)

    def _run(self) -> None:
        try:
            self._server.run()
        except OSError:
            if not self._closing:  # a socket error while we close it ourselves is expected
                raise

    def _close(self) -> None:
        """Close every socket from inside waitress's own loop (closing them from this thread races with
        its poll), which empties the loop's map so ``run`` returns; then stop the worker threads. If the
        loop cannot be reached any more, close from here."""
        server = self._server
        self._closing = True

        def close_all() -> None:
            for channel in list(server._map.values()):
                channel.close()

        try:
            server.trigger.pull_trigger(close_all)
        except OSError:
            server.close()
        server.task_dispatcher.shutdown()


class SocketBot(SlackBot):
    """Socket Mode: Slack's requests arrive over a WebSocket the bot opens; no public URL needed."""

    def __init__(self, settings: Settings, *, clock: Callable[[], datetime] = utc_now):
        _require(settings, "slack_app_token")
        assert settings.slack_app_token is not None
        super().__init__(settings, clock=clock)
        self.handler = SocketModeHandler(self.app, settings.slack_app_token.get_secret_value())

    def _serve(self) -> None:
        self.handler.connect()

    def _close(self) -> None:
        self.handler.close()


def run_http(settings: Settings, host: str, port: int, threads: int) -> None:
    configure_logging(settings)
    server = BotServer(settings, host, port, threads)
    log.info("ISMS bot listening on %s", server.url)
    server.run_until_interrupted()


def run_socket(settings: Settings) -> None:
    configure_logging(settings)
    bot = SocketBot(settings)
    log.info("ISMS bot connected to Slack in Socket Mode")
    bot.run_until_interrupted()
