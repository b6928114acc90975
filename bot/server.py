"""Running the bot against Slack: HTTP mode (waitress) or Socket Mode, with the outbox dispatcher.

``BotServer`` is what ``isms-bot serve`` runs and what the end-to-end tests start on an ephemeral
port, so tests exercise the same assembly as production.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import waitress
from slack_bolt import App
from slack_bolt.error import BoltError
from slack_sdk.errors import SlackApiError
from waitress import wasyncore

from bot.http import MAX_BODY, WsgiApp, make_wsgi
from bot.jira_webhook import webhook_routes
from bot.logging_setup import configure_logging
from bot.runtime import Runtime, build_runtime, utc_now
from bot.scheduler import BotScheduler
from bot.slack.app import build_app
from bot.slack.blocks import fallback_text, message_blocks
from bot.slack.endpoint import SlackEndpoint
from bot.slack.intake import IntakeWorkers
from bot.slack.replies import RESPOND_KIND, Replies
from config.errors import ConfigError, StartupError
from config.settings import Settings
from integrations.slack_channels import SlackChannels
from integrations.slack_files import SlackFileSender
from integrations.slack_profiles import slack_timezones
from integrations.slack_rooms import ROOM_KINDS, SlackRoomSender
from integrations.slack_sender import SlackChatSender, make_web_client
from integrations.slack_uploads import SlackUploadSender
from storage.outbox import Sender
from workflows.kernel.work import Context
from workflows.outreach.files import UPLOAD_KIND

log = logging.getLogger(__name__)
LOOP_TIMEOUT = 0.2  # seconds the HTTP loop waits for a socket before it checks whether to stop
#: auth.test answers that mean the token itself is wrong (anything else: Slack or the URL is).
TOKEN_PROBLEMS = {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired", "not_allowed"}


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
    signed: bool = True,
) -> tuple[Runtime, App, IntakeWorkers]:
    """The runtime with Slack as its chat, the Bolt app on top of it and its intake workers (not yet
    started). ``signed``: HTTP mode, where Slack signs its requests (SLACK_SIGNING_SECRET); Socket Mode
    needs no signing secret."""
    _require(settings, "slack_bot_token", *(["slack_signing_secret"] if signed else []))
    assert settings.slack_bot_token is not None
    client = make_web_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_url)
    replies = Replies(message_blocks, fallback_text, connections=settings.http_threads)

    chats: list[SlackChatSender] = []  # the one chat sender, once build_runtime made it

    def chat_sender(ctx: Context) -> Sender:
        chats.append(SlackChatSender(client, ctx.org, message_blocks, fallback_text))
        replies.dm = chats[-1]
        return chats[-1]

    def user_of(person_id: str) -> str:
        """A person's Slack user id, found as their direct messages find it."""
        return chats[-1].channel_for(f"person:{person_id}")

    rooms = SlackRoomSender(client, user_of)

    def channel_for(to: str) -> str:  # the chat sender's: built with the organisation, before any send
        assert isinstance(replies.dm, SlackChatSender)
        return replies.dm.channel_for(to)

    runtime = build_runtime(
        settings,
        chat_sender,
        clock=clock,
        extra_senders={
            "slack.file": SlackFileSender(client, settings.slack_bot_token.get_secret_value(), settings.slack_api_url),
            RESPOND_KIND: replies,
            **dict.fromkeys(ROOM_KINDS, rooms),
            UPLOAD_KIND: SlackUploadSender(client, channel_for, settings.slack_api_url),
            **(extra_senders or {}),
        },
    )
    runtime.ctx.channels = SlackChannels(client)
    secret = settings.slack_signing_secret.get_secret_value() if signed and settings.slack_signing_secret else None
    quiet = _Quiet()  # our one line below says it; slack_sdk would log the failed auth.test as an ERROR too
    logging.getLogger("slack_sdk.web.base_client").addFilter(quiet)
    try:
        app, intake = build_app(
            runtime.ctx,
            runtime.router,
            client,
            secret,
            replies,
            workers=settings.intake_workers,
            lease=timedelta(seconds=settings.intake_lease),
        )
    except BoltError as error:  # auth.test refused; Bolt raises it from the SlackApiError
        runtime.engine.dispose()
        raise _slack_refused(error.__context__, settings) from error
    except OSError as error:  # unreachable: refused, no route, DNS, timeout
        runtime.engine.dispose()
        raise StartupError(
            "SLACK_API_URL", f"Slack is unreachable at {settings.slack_api_url} ({_reason(error)})"
        ) from error
    finally:
        logging.getLogger("slack_sdk.web.base_client").removeFilter(quiet)
    return runtime, app, intake


class _Quiet(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return False


def _slack_refused(cause: BaseException | None, settings: Settings) -> StartupError:
    code = ""
    if isinstance(cause, SlackApiError) and isinstance(cause.response.data, dict):
        code = str(cause.response.data.get("error") or "")
    if code in TOKEN_PROBLEMS:
        return StartupError("SLACK_BOT_TOKEN", f"Slack refused the token ({code})")
    status = cause.response.status_code if isinstance(cause, SlackApiError) else "?"
    answer = code or f"HTTP {status}"
    return StartupError("SLACK_API_URL", f"Slack at {settings.slack_api_url} answered auth.test with {answer}")


def _reason(error: BaseException) -> str:
    """The innermost reason of a connection error, e.g. ``Connection refused``."""
    reason = getattr(error, "reason", None) or error
    text = getattr(reason, "strerror", None) or str(reason)
    return text.splitlines()[0] if text else type(error).__name__


class SlackBot(ABC):
    """What every Slack mode runs: the runtime, the Bolt app, its intake workers, the outbox dispatcher
    and the scheduler."""

    signed = True  # Slack signs the requests of this mode (HTTP)

    def __init__(self, settings: Settings, *, clock: Callable[[], datetime] = utc_now):
        self.runtime, self.app, self.intake = build_slack(settings, clock=clock, signed=self.signed)
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
        self.intake.start()  # its first sweep replays what a crash left behind
        self.scheduler.start()
        try:
            self._serve()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        self._close()
        self.intake.stop()  # after the requests: what is stored and not yet run waits for the next start
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
    """HTTP mode: Slack events, webhooks, health and metrics on waitress.

    Stopping uses waitress's public pieces only: the server is created with a socket map of our own
    (``create_server(map=...)``), our thread runs waitress's loop over that map a short poll at a time
    (``wasyncore.loop(count=1)``) until told to stop, then closes the server and every connection in
    the map from that same thread (``server.close()``, ``wasyncore.close_all``) and stops the worker
    threads (``task_dispatcher.shutdown()``). No private attribute, and no close racing the poll.
    """

    def __init__(
        self,
        settings: Settings,
        host: str = "127.0.0.1",
        port: int = 0,
        threads: int | None = None,
        *,
        clock: Callable[[], datetime] = utc_now,
        extra_routes: Mapping[tuple[str, str], WsgiApp] | None = None,
    ):
        super().__init__(settings, clock=clock)
        assert settings.slack_signing_secret is not None  # required by build_slack in HTTP mode
        routes = {**webhook_routes(settings, self.runtime.ctx), **(extra_routes or {})}
        slack = SlackEndpoint(self.app, settings.slack_signing_secret.get_secret_value())
        self.wsgi = make_wsgi(slack, self.runtime.engine, self.runtime.ctx.sessions, routes)
        self._map: dict[int, wasyncore.dispatcher] = {}
        try:
            self._server = waitress.create_server(
                self.wsgi,
                map=self._map,
                host=host,
                port=port,
                threads=threads or settings.http_threads,
                connection_limit=settings.http_connection_limit,
                max_request_body_size=MAX_BODY,
                asyncore_use_poll=True,  # select() cannot watch more than 1024 sockets
            )
        except OSError as error:  # the port is taken, or the address is not this machine's
            self.runtime.engine.dispose()
            raise StartupError("--host/--port", f"cannot listen on {host}:{port} ({_reason(error)})") from error
        self._stopping = threading.Event()

    @property
    def http_adjustments(self) -> Any:
        """waitress's settings of this server (threads, connection limit, body cap)."""
        return self._server.adj

    @property
    def url(self) -> str:
        return f"http://{self._server.effective_host}:{self._server.effective_port}"

    def _serve(self) -> None:
        http = threading.Thread(target=self._run, name="http", daemon=True)
        http.start()
        self._threads.append(http)

    def _run(self) -> None:
        try:
            while self._map and not self._stopping.is_set():
                wasyncore.loop(timeout=LOOP_TIMEOUT, use_poll=True, map=self._map, count=1)
        finally:
            self._server.close()
            wasyncore.close_all(self._map)

    def _close(self) -> None:
        self._stopping.set()
        for thread in self._threads:
            if thread.name == "http":
                thread.join(timeout=5)
        self._server.task_dispatcher.shutdown()


class SocketBot(SlackBot):
    """Socket Mode: Slack's requests arrive over a WebSocket the bot opens; no public URL needed, and
    no signing secret (the requests are not signed)."""

    signed = False

    def __init__(self, settings: Settings, *, clock: Callable[[], datetime] = utc_now):
        _require(settings, "slack_app_token")
        assert settings.slack_app_token is not None
        super().__init__(settings, clock=clock)
        from slack_bolt.adapter.socket_mode import SocketModeHandler  # Socket Mode only, not `serve`

        self.handler = SocketModeHandler(self.app, settings.slack_app_token.get_secret_value())

    def _serve(self) -> None:
        try:
            self.handler.connect()  # type: ignore[no-untyped-call]
        except SlackApiError as error:
            code = error.response.data.get("error") if isinstance(error.response.data, dict) else None
            raise StartupError("SLACK_APP_TOKEN", f"Slack refused the app-level token ({code or 'error'})") from error

    def _close(self) -> None:
        self.handler.close()  # type: ignore[no-untyped-call]


def run_http(settings: Settings, host: str, port: int, threads: int | None = None) -> None:
    configure_logging(settings)
    server = BotServer(settings, host, port, threads)
    log.info("ISMS bot listening on %s", server.url)
    server.run_until_interrupted()


def run_socket(settings: Settings) -> None:
    configure_logging(settings)
    bot = SocketBot(settings)
    log.info("ISMS bot connected to Slack in Socket Mode")
    bot.run_until_interrupted()
