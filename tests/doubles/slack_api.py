"""A local HTTP double of the Slack Web API.

Mocking ``WebClient`` methods only proves that the bot calls Python functions;
it says nothing about what goes over the wire. This double is a real HTTP
server, so the real ``slack_sdk`` client (including its retry handlers and the
``WebhookClient`` that Bolt's ``respond()`` uses) talks to it exactly as it
would talk to slack.com: form or JSON bodies, bearer tokens, ``{"ok": ...}``
envelopes, HTTP 429 with ``Retry-After``. Tests point the bot at ``base_url``
and then assert on the recorded calls.

Channels created with ``conversations.create`` are kept with their members, pins and archived flag, and
answer as Slack does (``name_taken``, ``already_in_channel``, ``not_in_channel``, ``is_archived``,
``already_pinned``, ``already_archived``); ``conversations.list`` shows private ones to members only.
``add_channel`` makes a channel with members as people made it; ``conversations.members`` pages its
member ids by ``cursor`` (``channel_not_found`` for an unknown channel or a private one without the bot).

Posted messages are kept per conversation with their ``metadata``, so
``conversations.history`` and ``conversations.replies`` (``oldest``, ``latest``,
``inclusive``, ``limit``, ``cursor``, ``include_all_metadata``) read them back as
Slack does, and ``lose_answers`` makes a call take effect while its answer is
lost (a 500, a closed connection, or no answer until the client times out).

Files are shared in Slack's current three steps: ``files.getUploadURLExternal`` (a file id and an
upload URL), a POST of the bytes to that URL (raw or multipart), and ``files.completeUploadExternal``
(shares the file in ``channel_id`` with ``initial_comment``); ``files.info`` then lists where it is
shared, and ``shared_files`` shows what people see.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import logging
import math
import mimetypes
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

_log = logging.getLogger(__name__)

TEAM_ID = "T000TEST"
TEAM_NAME = "ISMS Test"
TEAM_DOMAIN = "example"
BOT_USER_ID = "UBOT"
BOT_USER_NAME = "isms-bot"
BOT_ID = "BBOT"
APP_ID = "A000TEST"

#: Pseudo method names under which response_url posts and file downloads are
#: recorded, so ``wait_for``, ``fail_next`` and ``set_rate_limit`` work on them too.
RESPONSE_URL_METHOD = "response_url"
FILE_DOWNLOAD_METHOD = "file_download"
FILE_UPLOAD_METHOD = "file_upload"

# Form-encoded requests carry structured arguments as JSON strings; decoding
# them lets tests assert on blocks the same way whichever encoding the client chose.
_JSON_ENCODED_ARGS = ("blocks", "attachments", "view", "metadata", "files")

# What files.slack.com serves to an unauthenticated download: a login page with
# HTTP 200, not an error status. Bots that forget the token or do not check the
# content type end up storing this page, and the double reproduces that trap.
_LOGIN_PAGE = b"<!DOCTYPE html><html><head><title>Slack</title></head><body>Sign in to Slack</body></html>"


def dm_channel_id(user_id: str) -> str:
    """Return the direct-message channel id the double assigns to a user.

    Slack answers a post to a user id with the id of the DM channel; the double
    derives it deterministically so tests can predict it.
    """
    return "D" + user_id


def _is_user_id(value: str) -> bool:
    return value[:1] in ("U", "W")


def _resolve_channel(channel: str) -> str:
    return dm_channel_id(channel) if _is_user_id(channel) else channel


def _flag(value: Any) -> bool:
    """Slack's booleans arrive as true/false, 1/0 or JSON booleans."""
    return value is True or str(value).lower() in ("1", "true")


def _tz_offset(tz: str) -> int:
    offset = datetime.now(ZoneInfo(tz)).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


@dataclass(frozen=True)
class RecordedCall:
    """One request the double received.

    ``headers`` keys are lower-cased because clients differ in how they
    capitalise them (urllib sends ``Content-type``). ``response`` is the JSON
    body the double answered, ``None`` for response_url posts and file downloads.
    """

    method: str
    args: dict[str, Any]
    headers: dict[str, str]
    at: float
    path: str
    status: int = 200
    response: dict[str, Any] | None = None


class _ApiError(Exception):
    """Ends a Web API call with ``{"ok": false, "error": ...}``."""

    def __init__(self, error: str, status: int = 200, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.extra = extra


@dataclass
class _Fault:
    status: int
    error: str
    retry_after: float | None
    remaining: int


LOST_ANSWER_MODES = ("500", "close", "hang")
"""How ``lose_answers`` loses an answer: HTTP 500 after the call took effect, the connection closed
without an answer, or no answer at all until the client gives up (a timeout)."""


@dataclass
class _Reply:
    status: int
    body: bytes
    content_type: str
    headers: dict[str, str]

    @classmethod
    def json(cls, payload: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> _Reply:
        return cls(status, json.dumps(payload).encode(), "application/json; charset=utf-8", headers or {})


class _TokenBucket:
    """Slack's per-method rate limits allow short bursts, then a steady rate."""

    def __init__(self, per_second: float, burst: int) -> None:
        if per_second <= 0 or burst < 1:
            raise ValueError("per_second must be positive and burst at least 1")
        self.per_second = per_second
        self.burst = burst
        self.tokens = float(burst)
        self.updated = time.monotonic()

    def take(self) -> float:
        """Take a token; return 0.0 on success, else the seconds until one is available."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.per_second)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.per_second


def _invalid_arguments(*messages: str) -> _ApiError:
    """Slack's answer to malformed arguments names each problem in response_metadata."""
    return _ApiError("invalid_arguments", response_metadata={"messages": [f"[ERROR] {m}" for m in messages]})


def _require(args: dict[str, Any], *names: str) -> None:
    missing = [name for name in names if not args.get(name)]
    if missing:
        raise _invalid_arguments(*(f"missing required field: {name}" for name in missing))


def _require_text(args: dict[str, Any]) -> None:
    if not any(args.get(name) for name in ("text", "blocks", "attachments")):
        raise _ApiError("no_text")


def _multipart_file(body: bytes, content_type: str) -> bytes:
    """The content of the first part of a multipart/form-data body (the file, as SDKs send it)."""
    boundary = content_type.partition("boundary=")[2].strip('"')
    for part in body.split(b"--" + boundary.encode()):
        head, separator, content = part.partition(b"\r\n\r\n")
        if separator and b"Content-Disposition" in head:
            return content.removesuffix(b"\r\n")
    return b""


def _parse_args(query: str, body: bytes, content_type: str) -> dict[str, Any]:
    """Parse Web API arguments the way Slack does: query string plus form or JSON body."""
    args: dict[str, Any] = {key: values[0] for key, values in parse_qs(query, keep_blank_values=True).items()}
    media_type = content_type.split(";", 1)[0].strip().lower()
    if body and media_type == "application/json":
        try:
            parsed = json.loads(body)
        except ValueError:
            raise _ApiError("invalid_json") from None
        if not isinstance(parsed, dict):
            raise _ApiError("invalid_json")
        args.update(parsed)
    elif body and media_type == "application/x-www-form-urlencoded":
        form = parse_qs(body.decode("utf-8"), keep_blank_values=True)
        args.update({key: values[0] for key, values in form.items()})
    elif body:
        raise _ApiError("invalid_form_data")
    for name in _JSON_ENCODED_ARGS:
        value = args.get(name)
        if isinstance(value, str) and value[:1] in ("[", "{"):
            try:
                args[name] = json.loads(value)
            except ValueError:
                raise _ApiError(f"invalid_{name}") from None
    return args


class _Server(ThreadingHTTPServer):
    # Benchmarks fire many concurrent requests; the default backlog of 5 would
    # make the kernel refuse connections before the double could throttle them.
    request_queue_size = 128

    def __init__(self, double: SlackApiDouble) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.double = double


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        self.server.double._serve(self)

    do_GET = do_POST

    def log_message(self, format: str, *args: Any) -> None:
        _log.debug("%s - %s", self.address_string(), format % args)


class SlackApiDouble:
    """An in-process HTTP server that answers like slack.com/api.

    Start it (context manager or ``start()``), pass ``base_url`` to the
    ``WebClient`` under test, let the bot work, then assert on ``calls``,
    ``messages_to()`` or ``wait_for()``. Listeners run after ``ack()`` on other
    threads, so tests should ``wait_for`` calls rather than inspect ``calls``
    immediately.

    ``retry_after_format`` decides how ``Retry-After`` is written: ``int`` as
    Slack does (whole seconds, at least 1), or ``float`` (e.g. ``"0.125"``) so
    benchmarks with clients that accept fractions need not wait whole seconds.
    slack_sdk's builtin ``RateLimitErrorRetryHandler`` parses the header with
    ``int()`` and cannot read fractions. ``latency`` (seconds) delays every
    answer to simulate a slow Slack; it may be changed while running.

    ``clock`` (seconds since the epoch, e.g. ``time.time``) makes message
    timestamps real times, as Slack's are, so ``oldest``/``latest`` in
    ``conversations.history`` mean what they mean at Slack; without it
    timestamps count up from ``1700000000.000100``.
    """

    def __init__(
        self,
        token: str = "xoxb-test",
        *,
        app_token: str = "xapp-test",
        latency: float = 0.0,
        retry_after_format: type[int] | type[float] = int,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if retry_after_format not in (int, float):
            raise ValueError("retry_after_format must be int or float")
        self.token = token
        self.app_token = app_token
        self.socket_url: str | None = None  # where apps.connections.open sends Socket Mode clients
        self.latency = latency
        self.retry_after_format = retry_after_format
        self._cond = threading.Condition()
        self._calls: list[RecordedCall] = []
        self._rejected: list[RecordedCall] = []
        self._users: dict[str, dict[str, Any]] = {}
        self._files: dict[str, tuple[dict[str, Any], bytes]] = {}
        self._uploads: dict[str, dict[str, Any]] = {}  # file id -> upload begun, not yet completed
        self._reactions: set[tuple[str, str, str]] = set()
        self._channels: dict[str, dict[str, Any]] = {}  # created by conversations.create, by id
        self.members_page = 1000
        """The most ids one conversations.members page holds (Slack may answer fewer than ``limit``);
        tests lower it to see the bot follow the cursor."""
        self._pins: set[tuple[str, str]] = set()
        self._faults: dict[str, list[_Fault]] = {}
        self._buckets: dict[str, _TokenBucket] = {}
        self._ts_sequence = itertools.count(100)
        self._clock = clock
        self._last_ts_us = 0
        self._conversations: dict[str, list[dict[str, Any]]] = {}
        self._losses: dict[str, list[list[Any]]] = {}
        self._lost: list[RecordedCall] = []
        self._hung = threading.Event()
        self._id_sequence = itertools.count(1)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "auth.test": self._auth_test,
            "apps.connections.open": self._apps_connections_open,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.getPermalink": self._chat_get_permalink,
            "conversations.open": self._conversations_open,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "views.open": self._views_open,
            "views.push": self._views_open,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "users.info": self._users_info,
            "users.lookupByEmail": self._users_lookup_by_email,
            "files.info": self._files_info,
            "files.getUploadURLExternal": self._files_get_upload_url_external,
            "files.completeUploadExternal": self._files_complete_upload_external,
            "reactions.add": self._reactions_add,
            "conversations.create": self._conversations_create,
            "conversations.list": self._conversations_list,
            "conversations.members": self._conversations_members,
            "conversations.invite": self._conversations_invite,
            "conversations.archive": self._conversations_archive,
            "pins.add": self._pins_add,
        }

    # -- lifecycle -------------------------------------------------------

    def start(self) -> SlackApiDouble:
        """Bind an ephemeral port on 127.0.0.1 and serve in a daemon thread."""
        if self._server is not None:
            raise RuntimeError("SlackApiDouble is already running")
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            # shutdown() waits for the loop to poll; the default 0.5 s would add that to every test.
            kwargs={"poll_interval": 0.05},
            name="slack-api-double",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket; safe to call twice."""
        if self._server is None:
            return
        self._hung.set()  # answers held back by lose_answers(mode="hang") end now
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = None
        self._thread = None

    def __enter__(self) -> SlackApiDouble:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def root_url(self) -> str:
        """``http://127.0.0.1:PORT`` without a trailing slash."""
        if self._server is None:
            raise RuntimeError("SlackApiDouble is not running; call start() first")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def base_url(self) -> str:
        """Web API base URL; the trailing slash matters because WebClient appends method names to it."""
        return f"{self.root_url}/api/"

    def response_url(self, name: str) -> str:
        """A response_url (as Slack puts in commands and actions) that the double records posts to."""
        return f"{self.root_url}/response/{name}"

    # -- workspace state -------------------------------------------------

    def add_user(
        self,
        user_id: str,
        email: str,
        tz: str = "Europe/Berlin",
        name: str | None = None,
        *,
        real_name: str | None = None,
        deleted: bool = False,
        bot: bool = False,
    ) -> dict[str, Any]:
        """Make a user known to users.info and users.lookupByEmail (``bot``: an app's bot user);
        returns Slack's user object."""
        ZoneInfo(tz)  # fail here, not inside the server thread, on a bad zone name
        name = name or email.split("@", 1)[0]
        real_name = real_name or name
        user = {
            "id": user_id,
            "team_id": TEAM_ID,
            "name": name,
            "real_name": real_name,
            "deleted": deleted,
            "is_bot": bot,
            "tz": tz,
            "tz_offset": _tz_offset(tz),
            "profile": {"email": email, "real_name": real_name, "display_name": name},
        }
        with self._cond:
            self._users[user_id] = user
        return user

    def add_file(self, file_id: str, name: str, content: bytes, mimetype: str | None = None) -> None:
        """Make a file known to files.info and downloadable, with the bot token, at ``file_url(file_id)``."""
        info = {
            "id": file_id,
            "name": name,
            "title": name,
            "mimetype": mimetype or mimetypes.guess_type(name)[0] or "application/octet-stream",
            "filetype": name.rsplit(".", 1)[-1].lower() if "." in name else "binary",
            "size": len(content),
        }
        with self._cond:
            self._files[file_id] = (info, content)

    def add_channel(self, name: str, members: list[str], *, private: bool = False, bot_in: bool = True) -> str:
        """A channel people created, with ``members`` (and the bot unless ``bot_in`` is False); its id."""
        with self._cond:
            channel_id = self._next_id("C")
            self._channels[channel_id] = {
                "id": channel_id,
                "name": name,
                "is_channel": True,
                "is_private": private,
                "is_archived": False,
                "created": int(float(self._next_ts())),
                "creator": members[0] if members else BOT_USER_ID,
                "members": set(members) | ({BOT_USER_ID} if bot_in else set()),
            }
        return channel_id

    def channel(self, name: str) -> dict[str, Any] | None:
        """A channel created through conversations.create, by name (a copy, members as a sorted list)."""
        with self._cond:
            found = next((c for c in self._channels.values() if c["name"] == name), None)
            return {**found, "members": sorted(found["members"])} if found else None

    def channels(self) -> list[dict[str, Any]]:
        """Every channel created through conversations.create, oldest first."""
        with self._cond:
            return [{**c, "members": sorted(c["members"])} for c in self._channels.values()]

    def remove_member(self, channel: str, user_id: str) -> None:
        """Take somebody (the bot, ``BOT_USER_ID``, too) out of a channel created through conversations.create."""
        with self._cond:
            self._channels[channel]["members"].discard(user_id)

    def pinned(self, channel: str) -> list[str]:
        """Timestamps of the messages pinned in ``channel``."""
        with self._cond:
            return sorted(ts for pinned_in, ts in self._pins if pinned_in == channel)

    def file_url(self, file_id: str) -> str:
        """Where files.info says the file can be downloaded (url_private and url_private_download)."""
        return f"{self.root_url}/files/{file_id}"

    # -- fault injection -------------------------------------------------

    def fail_next(
        self,
        method: str,
        status: int = 500,
        *,
        retry_after: float | None = None,
        error: str | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with HTTP ``status`` instead of handling them.

        A 429 carries ``Retry-After`` (default 1 s) and Slack's ``ratelimited``
        body. ``status=200`` with ``error`` injects an application error such as
        ``channel_not_found``. Failed calls land in ``rejected``, not ``calls``.
        """
        if status == 429:
            retry_after = 1 if retry_after is None else retry_after
            error = error or "ratelimited"
        elif status == 200 and not error:
            raise ValueError("an injected HTTP 200 failure needs an error code")
        fault = _Fault(status, error or "internal_error", retry_after, times)
        with self._cond:
            self._faults.setdefault(method, []).append(fault)

    def lose_answers(self, method: str, mode: str = "500", *, times: int = 1) -> None:
        """Let the next ``times`` calls of ``method`` take effect (a message is stored and recorded in
        ``calls``) but lose their answer: ``"500"`` answers HTTP 500 ``internal_error``, ``"close"``
        closes the connection without an answer, ``"hang"`` answers nothing until ``release_hung()``
        or ``stop()`` (the client times out). Lost calls are also listed in ``lost``."""
        if mode not in LOST_ANSWER_MODES:
            raise ValueError(f"mode must be one of {LOST_ANSWER_MODES}")
        if mode == "hang":
            self._hung.clear()
        with self._cond:
            self._losses.setdefault(method, []).append([mode, times])

    def release_hung(self) -> None:
        """End every answer held back by ``lose_answers(mode="hang")`` (the connection is closed)."""
        self._hung.set()

    def set_rate_limit(self, method: str, per_second: float, burst: int = 1) -> None:
        """Throttle ``method`` with a token bucket; excess calls get 429 and count in ``throttled``."""
        with self._cond:
            self._buckets[method] = _TokenBucket(per_second, burst)

    # -- inspection ------------------------------------------------------

    @property
    def calls(self) -> list[RecordedCall]:
        """Snapshot of all handled calls (including ``ok: false`` answers), oldest first."""
        with self._cond:
            return list(self._calls)

    @property
    def rejected(self) -> list[RecordedCall]:
        """Snapshot of calls answered by an injected fault or the rate limiter."""
        with self._cond:
            return list(self._rejected)

    @property
    def lost(self) -> list[RecordedCall]:
        """Calls that took effect but whose answer ``lose_answers`` lost."""
        with self._cond:
            return list(self._lost)

    def conversation(self, channel_or_user: str) -> list[dict[str, Any]]:
        """Every message stored in a conversation (thread replies included), oldest first, with metadata."""
        with self._cond:
            return [dict(message) for message in self._conversations.get(_resolve_channel(channel_or_user), [])]

    def shared_files(self, channel_or_user: str) -> list[tuple[dict[str, Any], bytes, str]]:
        """Files shared in a conversation by files.completeUploadExternal, oldest first: the file
        object, its bytes and the message text beside it (``initial_comment``)."""
        with self._cond:
            return [
                (dict(self._files[file["id"]][0]), self._files[file["id"]][1], message.get("text", ""))
                for message in self._conversations.get(_resolve_channel(channel_or_user), [])
                for file in message.get("files", ())
            ]

    @property
    def throttled(self) -> int:
        """How many calls were answered with HTTP 429."""
        with self._cond:
            return sum(1 for call in self._rejected if call.status == 429)

    @property
    def responses(self) -> list[RecordedCall]:
        """Posts to response_urls; ``args`` is the JSON the bot sent, ``path`` names the URL."""
        return self.calls_to(RESPONSE_URL_METHOD)

    def calls_to(self, method: str) -> list[RecordedCall]:
        """Handled calls of one method, oldest first."""
        with self._cond:
            return [call for call in self._calls if call.method == method]

    def messages_to(self, channel_or_user: str) -> list[dict[str, Any]]:
        """Arguments of successful chat.postMessage calls to a channel, or to a user or their DM channel."""
        targets = {channel_or_user, _resolve_channel(channel_or_user)}
        return [
            call.args
            for call in self.calls_to("chat.postMessage")
            if call.response is not None
            and call.response.get("ok")
            and (call.args.get("channel") in targets or call.response.get("channel") in targets)
        ]

    def clear(self) -> None:
        """Forget recorded calls; users, files, faults and rate limits stay."""
        with self._cond:
            self._calls.clear()
            self._rejected.clear()

    def wait_for(
        self,
        match: str | Callable[[RecordedCall], bool],
        timeout: float = 5.0,
        count: int = 1,
    ) -> RecordedCall:
        """Block until ``count`` handled calls match, then return the ``count``-th one.

        ``match`` is a method name or a predicate on ``RecordedCall``. Waits on a
        condition variable rather than sleeping, so it returns as soon as the call
        arrives; on timeout it raises AssertionError listing what did arrive.
        """
        predicate: Callable[[RecordedCall], bool] = match if callable(match) else lambda call: call.method == match
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [call for call in self._calls if predicate(call)]
                if len(found) >= count:
                    return found[count - 1]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(self._timeout_summary(match, timeout, count, len(found)))
                self._cond.wait(remaining)

    def _timeout_summary(self, match: object, timeout: float, count: int, found: int) -> str:
        description = match if isinstance(match, str) else getattr(match, "__name__", repr(match))
        lines = [
            f"expected {count} Slack call(s) matching {description!r} within {timeout}s, got {found}.",
            f"{len(self._calls)} call(s) recorded:",
        ]
        for call in self._calls:
            args = json.dumps(call.args, default=str)
            lines.append(f"  {call.method} {args[:200]}{'...' if len(args) > 200 else ''}")
        if self._rejected:
            rejected = ", ".join(f"{call.method}({call.status})" for call in self._rejected)
            lines.append(f"{len(self._rejected)} rejected: {rejected}")
        return "\n".join(lines)

    # -- HTTP plumbing ---------------------------------------------------

    def _serve(self, request: _Handler) -> None:
        received = time.monotonic()
        url = urlsplit(request.path)
        body = request.rfile.read(int(request.headers.get("Content-Length") or 0))
        headers = {key.lower(): value for key, value in request.headers.items()}
        if self.latency:
            time.sleep(self.latency)
        if url.path.startswith("/api/"):
            method, handle = url.path[len("/api/") :], self._handle_api
        elif url.path.startswith("/response/"):
            method, handle = RESPONSE_URL_METHOD, self._handle_response_url
        elif url.path.startswith("/files/"):
            method, handle = FILE_DOWNLOAD_METHOD, self._handle_file_download
        elif url.path.startswith("/upload/v1/"):
            method, handle = FILE_UPLOAD_METHOD, self._handle_file_upload
        else:
            self._send(request, _Reply(404, b"Not Found", "text/plain; charset=utf-8", {}))
            return
        lost: str | None = None
        with self._cond:
            reply = self._reject(method, url.path, url.query, body, headers, received)
            if reply is None:
                reply, call = handle(method, url.path, url.query, body, headers, received)
                self._calls.append(call)
                lost = self._take_loss(method) if reply.status == 200 else None
                if lost is not None:
                    self._lost.append(call)
            self._cond.notify_all()
        if lost == "500":
            self._send(request, _Reply.json({"ok": False, "error": "internal_error"}, 500))
        elif lost == "hang":
            self._hung.wait(60)
            request.close_connection = True
        elif lost == "close":
            request.close_connection = True
        else:
            self._send(request, reply)

    def _take_loss(self, method: str) -> str | None:
        losses = self._losses.get(method)
        if not losses:
            return None
        loss = losses[0]
        loss[1] -= 1
        if loss[1] <= 0:
            losses.pop(0)
        return str(loss[0])

    @staticmethod
    def _send(request: _Handler, reply: _Reply) -> None:
        try:
            request.send_response(reply.status)
            request.send_header("Content-Type", reply.content_type)
            request.send_header("Content-Length", str(len(reply.body)))
            for name, value in reply.headers.items():
                request.send_header(name, value)
            request.end_headers()
            request.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):  # the client went away (killed, timed out)
            request.close_connection = True

    def _format_retry_after(self, seconds: float) -> str:
        if self.retry_after_format is int:
            return str(max(1, math.ceil(seconds)))
        return f"{max(seconds, 0.001):.3f}"

    def _reject(
        self, method: str, path: str, query: str, body: bytes, headers: dict[str, str], received: float
    ) -> _Reply | None:
        """Apply injected faults, then the rate limit; must hold the lock."""
        faults = self._faults.get(method)
        if faults:
            fault = faults[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                faults.pop(0)
            status, error, retry_after = fault.status, fault.error, fault.retry_after
        elif method in self._buckets and (wait := self._buckets[method].take()) > 0:
            status, error, retry_after = 429, "ratelimited", wait
        else:
            return None
        try:
            args = _parse_args(query, body, headers.get("content-type", ""))
        except _ApiError:
            args = {}  # the request never got far enough for Slack to complain about its body
        payload = {"ok": False, "error": error}
        self._rejected.append(RecordedCall(method, args, headers, received, path, status, payload))
        extra_headers = {} if retry_after is None else {"Retry-After": self._format_retry_after(retry_after)}
        return _Reply.json(payload, status, extra_headers)

    def _handle_api(
        self, method: str, path: str, query: str, body: bytes, headers: dict[str, str], received: float
    ) -> tuple[_Reply, RecordedCall]:
        args: dict[str, Any] = {}
        try:
            args = _parse_args(query, body, headers.get("content-type", ""))
            self._authenticate(headers, args, self.app_token if method == "apps.connections.open" else self.token)
            handler = self._handlers.get(method)
            if handler is None:
                raise _ApiError("unknown_method", status=404, req_method=method)
            payload = {"ok": True, **handler(args)}
            status = 200
        except _ApiError as failure:
            payload = {"ok": False, "error": failure.error, **failure.extra}
            status = failure.status
        return _Reply.json(payload, status), RecordedCall(method, args, headers, received, path, status, payload)

    def _authenticate(self, headers: dict[str, str], args: dict[str, Any], expected: str) -> None:
        """Slack takes the token from the Authorization header or, for form posts, a ``token`` field.

        Socket Mode's apps.connections.open takes the app-level token (xapp-), every other method the bot's.
        """
        authorization = headers.get("authorization", "")
        token = authorization[len("Bearer ") :] if authorization.startswith("Bearer ") else args.get("token")
        if not token:
            raise _ApiError("not_authed")
        if token != expected:
            raise _ApiError("invalid_auth")

    def _handle_response_url(
        self, method: str, path: str, query: str, body: bytes, headers: dict[str, str], received: float
    ) -> tuple[_Reply, RecordedCall]:
        """response_urls take JSON and answer a bare ``ok`` (text/html), like hooks.slack.com."""
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            reply = _Reply(400, b"invalid_payload", "text/html; charset=utf-8", {})
            return reply, RecordedCall(method, {}, headers, received, path, 400)
        reply = _Reply(200, b"ok", "text/html; charset=utf-8", {})
        return reply, RecordedCall(method, payload, headers, received, path)

    def _handle_file_download(
        self, method: str, path: str, query: str, body: bytes, headers: dict[str, str], received: float
    ) -> tuple[_Reply, RecordedCall]:
        file_id = path[len("/files/") :]
        call = RecordedCall(method, {"file": file_id}, headers, received, path)
        if file_id not in self._files:
            return _Reply(404, b"Not Found", "text/plain; charset=utf-8", {}), call
        if headers.get("authorization") != f"Bearer {self.token}":
            return _Reply(200, _LOGIN_PAGE, "text/html; charset=utf-8", {}), call
        info, content = self._files[file_id]
        return _Reply(200, content, info["mimetype"], {}), call

    def _handle_file_upload(
        self, method: str, path: str, query: str, body: bytes, headers: dict[str, str], received: float
    ) -> tuple[_Reply, RecordedCall]:
        """The upload URL of files.getUploadURLExternal takes the bytes raw or as multipart form data
        and answers ``OK - <length>`` as text; it needs no token (the URL is the credential), takes
        exactly the length announced, and works until the upload is completed."""
        upload_id = path[len("/upload/v1/") :]
        file_id = next((fid for fid, up in self._uploads.items() if up["upload_id"] == upload_id), None)
        call = RecordedCall(method, {"file": file_id or "", "size": len(body)}, headers, received, path)
        if file_id is None:
            return _Reply(404, b"Not Found", "text/plain; charset=utf-8", {}), replace(call, status=404)
        content = (
            _multipart_file(body, headers.get("content-type", ""))
            if "multipart" in headers.get("content-type", "")
            else body
        )
        upload = self._uploads[file_id]
        if len(content) != upload["length"]:
            text = f"length mismatch: announced {upload['length']}, sent {len(content)}".encode()
            return _Reply(400, text, "text/plain; charset=utf-8", {}), replace(call, status=400)
        upload["content"] = content
        return _Reply(200, f"OK - {len(content)}".encode(), "text/plain; charset=utf-8", {}), call

    # -- Web API methods (called with the lock held) ----------------------

    def _next_ts(self) -> str:
        if self._clock is not None:  # real times, unique and increasing, in microseconds as Slack's
            self._last_ts_us = max(int(self._clock() * 1_000_000), self._last_ts_us + 1)
            return f"{self._last_ts_us // 1_000_000}.{self._last_ts_us % 1_000_000:06d}"
        n = next(self._ts_sequence)
        return f"{1_700_000_000 + n // 1_000_000}.{n % 1_000_000:06d}"

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._id_sequence):08d}"

    def _apps_connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        if self.socket_url is None:
            raise _ApiError("internal_error")
        return {"url": self.socket_url}

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": TEAM_NAME,
            "user": BOT_USER_NAME,
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _message(self, args: dict[str, Any], ts: str) -> dict[str, Any]:
        message = {
            "type": "message",
            "text": args.get("text", ""),
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "team": TEAM_ID,
            "ts": ts,
        }
        message.update({key: args[key] for key in ("blocks", "attachments", "thread_ts", "metadata") if key in args})
        return message

    def _chat_post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        _require(args, "channel")
        _require_text(args)
        metadata = args.get("metadata")
        if metadata is not None and not (
            isinstance(metadata, dict)
            and isinstance(metadata.get("event_type"), str)
            and isinstance(metadata.get("event_payload"), dict)
        ):
            raise _ApiError("invalid_metadata_format")
        self._check_member(args["channel"])
        ts = self._next_ts()
        channel = _resolve_channel(args["channel"])
        message = self._message(args, ts)
        stored = self._conversations.setdefault(channel, [])
        if "thread_ts" in args:
            root = next((m for m in stored if m["ts"] == args["thread_ts"]), None)
            if root is not None:
                root["thread_ts"] = root["ts"]
                root["reply_count"] = root.get("reply_count", 0) + 1
        stored.append(dict(message))
        return {"channel": channel, "ts": ts, "message": message}

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        _require(args, "channel", "ts")
        _require_text(args)
        self._check_member(args["channel"])
        for stored in self._conversations.get(_resolve_channel(args["channel"]), []):
            if stored["ts"] == args["ts"]:
                stored.update({key: args[key] for key in ("text", "blocks", "attachments", "metadata") if key in args})
        return {
            "channel": _resolve_channel(args["channel"]),
            "ts": args["ts"],
            "text": args.get("text", ""),
            "message": self._message(args, args["ts"]),
        }

    def _chat_post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        _require(args, "channel", "user")
        _require_text(args)
        return {"message_ts": self._next_ts()}

    def _chat_get_permalink(self, args: dict[str, Any]) -> dict[str, Any]:
        _require(args, "channel", "message_ts")
        channel, ts = args["channel"], args["message_ts"]
        permalink = f"https://{TEAM_DOMAIN}.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        return {"channel": channel, "permalink": permalink}

    # Channels created through conversations.create are modelled as Slack keeps them: private ones are
    # seen only by their members, an archived one takes no posts, and the bot must be a member to post,
    # invite, pin or archive. Channels the tests merely name (C0TRIAGE) accept every post, as before.

    _CHANNEL_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,79}$")

    def _check_member(self, channel_id: str) -> dict[str, Any] | None:
        channel = self._channels.get(channel_id)
        if channel is None:
            return None
        if channel["is_archived"]:
            raise _ApiError("is_archived")
        if BOT_USER_ID not in channel["members"]:
            raise _ApiError("not_in_channel")
        return channel

    def _known_channel(self, args: dict[str, Any]) -> dict[str, Any]:
        _require(args, "channel")
        channel = self._channels.get(args["channel"])
        if channel is None:
            raise _ApiError("channel_not_found")
        return channel

    def _conversations_create(self, args: dict[str, Any]) -> dict[str, Any]:
        _require(args, "name")
        name = str(args["name"])
        if len(name) > 80:
            raise _ApiError("invalid_name_maxlength")
        if not self._CHANNEL_NAME.match(name):
            raise _ApiError("invalid_name_specials")
        if any(c["name"] == name for c in self._channels.values()):  # archived ones keep their name
            raise _ApiError("name_taken")
        channel = {
            "id": self._next_id("C"),
            "name": name,
            "is_channel": True,
            "is_private": _flag(args.get("is_private")),
            "is_archived": False,
            "created": int(float(self._next_ts())),
            "creator": BOT_USER_ID,
            "members": {BOT_USER_ID},
        }
        self._channels[channel["id"]] = channel
        return {"channel": self._channel_object(channel)}

    @staticmethod
    def _channel_object(channel: dict[str, Any]) -> dict[str, Any]:
        shown = {key: value for key, value in channel.items() if key != "members"}
        shown["is_member"] = BOT_USER_ID in channel["members"]
        return shown

    def _conversations_list(self, args: dict[str, Any]) -> dict[str, Any]:
        """Public channels, and the private ones the bot is a member of, a page at a time by ``cursor``."""
        types = set(str(args.get("types") or "public_channel").split(","))
        listed = [
            c
            for c in self._channels.values()
            if ("private_channel" if c["is_private"] else "public_channel") in types
            and (not c["is_private"] or BOT_USER_ID in c["members"])
            and not (_flag(args.get("exclude_archived")) and c["is_archived"])
        ]
        start = int(args.get("cursor") or 0)
        limit = int(args.get("limit") or 100)
        page = listed[start : start + limit]
        more = start + limit < len(listed)
        return {
            "channels": [self._channel_object(c) for c in page],
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    def _conversations_members(self, args: dict[str, Any]) -> dict[str, Any]:
        """A channel's member ids, a page at a time by ``cursor``; a private channel is hidden from a
        bot that is not in it, as Slack hides it."""
        channel = self._known_channel(args)
        if channel["is_private"] and BOT_USER_ID not in channel["members"]:
            raise _ApiError("channel_not_found")
        members = sorted(channel["members"])
        cursor = str(args.get("cursor") or "0")
        if not cursor.isdigit():
            raise _ApiError("invalid_cursor")
        start, limit = int(cursor), min(int(args.get("limit") or 100), 1000, self.members_page)
        more = start + limit < len(members)
        return {
            "members": members[start : start + limit],
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    def _conversations_invite(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._known_channel(args)
        _require(args, "users")
        self._check_member(channel["id"])
        for user in str(args["users"]).split(","):
            if user == BOT_USER_ID:
                raise _ApiError("cant_invite_self")
            if user not in self._users:
                raise _ApiError("user_not_found")
            if user in channel["members"]:
                raise _ApiError("already_in_channel")
        channel["members"].update(str(args["users"]).split(","))
        return {"channel": self._channel_object(channel)}

    def _conversations_archive(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._known_channel(args)
        if channel["is_archived"]:
            raise _ApiError("already_archived")
        self._check_member(channel["id"])
        channel["is_archived"] = True
        return {}

    def _pins_add(self, args: dict[str, Any]) -> dict[str, Any]:
        _require(args, "channel", "timestamp")
        self._check_member(args["channel"])
        channel = _resolve_channel(args["channel"])
        if not any(m["ts"] == args["timestamp"] for m in self._conversations.get(channel, [])):
            raise _ApiError("message_not_found")
        if (channel, args["timestamp"]) in self._pins:
            raise _ApiError("already_pinned")
        self._pins.add((channel, args["timestamp"]))
        return {}

    def _conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        """Only one-to-one DMs are modelled; a comma-separated ``users`` list is taken as one id."""
        _require(args, "users")
        return {"channel": {"id": dm_channel_id(args["users"])}}

    def _conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        """A conversation's messages (thread parents, not replies), newest first, a page at a time."""
        _require(args, "channel")
        channel = args["channel"]
        if _is_user_id(channel):  # Slack wants the DM channel's id (conversations.open), not the user's
            raise _ApiError("channel_not_found")
        messages = [m for m in self._conversations.get(channel, []) if m.get("thread_ts", m["ts"]) == m["ts"]]
        return self._page(messages, args, newest_first=True)

    def _conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        """A thread (its parent and replies), oldest first, a page at a time."""
        _require(args, "channel", "ts")
        stored = self._conversations.get(_resolve_channel(args["channel"]), [])
        root = next((m for m in stored if m["ts"] == args["ts"]), None)
        if root is None:
            raise _ApiError("thread_not_found")
        thread_ts = root.get("thread_ts", root["ts"])
        thread = [m for m in stored if m["ts"] == thread_ts or m.get("thread_ts") == thread_ts]
        return self._page(thread, args, newest_first=False)

    def _page(self, messages: list[dict[str, Any]], args: dict[str, Any], *, newest_first: bool) -> dict[str, Any]:
        """Slack's time window (``oldest``/``latest``, exclusive unless ``inclusive``) and cursor paging."""
        inclusive = _flag(args.get("inclusive"))
        try:
            oldest = float(args.get("oldest") or 0)
            latest = float(args["latest"]) if args.get("latest") else math.inf
            limit = min(max(int(args.get("limit") or 100), 1), 999)
        except ValueError:
            raise _invalid_arguments("oldest, latest and limit must be numbers") from None
        after: float | None = None
        if args.get("cursor"):
            try:
                after = float(base64.b64decode(args["cursor"]).decode().removeprefix("next_ts:"))
            except ValueError:
                raise _ApiError("invalid_cursor") from None

        def inside(ts: float) -> bool:
            low = ts >= oldest if inclusive else ts > oldest
            high = ts <= latest if inclusive else ts < latest
            return low and high and (after is None or (ts < after if newest_first else ts > after))

        window = sorted((m for m in messages if inside(float(m["ts"]))), key=lambda m: float(m["ts"]))
        if newest_first:
            window.reverse()
        page, more = window[:limit], len(window) > limit
        with_metadata = _flag(args.get("include_all_metadata"))
        answer: dict[str, Any] = {
            "messages": [m if with_metadata else {k: v for k, v in m.items() if k != "metadata"} for m in page],
            "has_more": more,
        }
        if newest_first:
            answer["pin_count"] = 0
        if more:
            cursor = base64.b64encode(f"next_ts:{page[-1]['ts']}".encode()).decode()
            answer["response_metadata"] = {"next_cursor": cursor}
        return answer

    def _view(self, view: Any, view_id: str | None = None) -> dict[str, Any]:
        if not isinstance(view, dict) or "type" not in view:
            raise _invalid_arguments("view must be an object with a type")
        view_id = view_id or self._next_id("V")
        return {
            "id": view_id,
            "team_id": TEAM_ID,
            "app_id": APP_ID,
            "bot_id": BOT_ID,
            "callback_id": "",
            "private_metadata": "",
            "external_id": "",
            "state": {"values": {}},
            "hash": hashlib.sha1(json.dumps(view, sort_keys=True).encode()).hexdigest()[:16],
            "root_view_id": view_id,
            "previous_view_id": None,
            **view,
        }

    def _views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        _require(args, "trigger_id", "view")
        return {"view": self._view(args["view"])}

    def _views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        _require(args, "view")
        if not (args.get("view_id") or args.get("external_id")):
            raise _invalid_arguments("view_id or external_id is required")
        return {"view": self._view(args["view"], args.get("view_id"))}

    def _views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        _require(args, "user_id", "view")
        return {"view": self._view(args["view"])}

    def _user(self, user: dict[str, Any]) -> dict[str, Any]:
        return {**user, "tz_offset": _tz_offset(user["tz"])}

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        _require(args, "user")
        user = self._users.get(args["user"])
        if user is None:
            raise _ApiError("user_not_found")
        return {"user": self._user(user)}

    def _users_lookup_by_email(self, args: dict[str, Any]) -> dict[str, Any]:
        _require(args, "email")
        email = args["email"].lower()
        for user in self._users.values():
            if user["profile"]["email"].lower() == email:
                return {"user": self._user(user)}
        raise _ApiError("users_not_found")

    def _files_info(self, args: dict[str, Any]) -> dict[str, Any]:
        _require(args, "file")
        if args["file"] not in self._files:
            raise _ApiError("file_not_found")
        url = self.file_url(args["file"])
        file = {**self._files[args["file"]][0], "url_private": url, "url_private_download": url}
        return {"file": file, "comments": []}

    def _files_get_upload_url_external(self, args: dict[str, Any]) -> dict[str, Any]:
        """Begin an upload: a file id and a one-off URL for its bytes. The file exists for nobody
        (files.info does not know it) until files.completeUploadExternal."""
        _require(args, "filename")
        try:
            length = int(args.get("length") or 0)
        except (TypeError, ValueError):
            raise _invalid_arguments("length must be an integer") from None
        if length <= 0:
            raise _ApiError("missing_argument")
        file_id = self._next_id("F")
        upload_id = hashlib.sha1(f"{file_id}:{time.monotonic()}".encode()).hexdigest()
        self._uploads[file_id] = {
            "upload_id": upload_id,
            "filename": args["filename"],
            "length": length,
            "content": None,
        }
        return {"upload_url": f"{self.root_url}/upload/v1/{upload_id}", "file_id": file_id}

    def _files_complete_upload_external(self, args: dict[str, Any]) -> dict[str, Any]:
        """Finish uploads and share the files in ``channel_id`` with ``initial_comment`` as one
        message. A file whose bytes never arrived is ``file_not_found``. Completing a completed file
        again shares it again, as a second message (the pessimistic reading of what Slack does), so
        a sender that completes twice shows up in the conversation."""
        _require(args, "files")
        files = args["files"]
        if not isinstance(files, list) or not files or not all(isinstance(f, dict) and f.get("id") for f in files):
            raise _invalid_arguments("files must be a list of objects with an id")
        for entry in files:
            upload = self._uploads.get(entry["id"])
            if entry["id"] not in self._files and (upload is None or upload["content"] is None):
                raise _ApiError("file_not_found")
        channel = _resolve_channel(args["channel_id"]) if args.get("channel_id") else None
        shared = []
        ts = self._next_ts()
        for entry in files:
            upload = self._uploads.pop(entry["id"], None)
            if upload is not None:
                name = upload["filename"]
                info = {
                    "id": entry["id"],
                    "name": name,
                    "title": entry.get("title") or name,
                    "mimetype": mimetypes.guess_type(name)[0] or "application/octet-stream",
                    "filetype": name.rsplit(".", 1)[-1].lower() if "." in name else "binary",
                    "size": upload["length"],
                    "permalink": f"https://{TEAM_DOMAIN}.slack.com/files/{BOT_USER_ID}/{entry['id']}/{name}",
                    "channels": [],
                    "groups": [],
                    "ims": [],
                    "shares": {},
                }
                self._files[entry["id"]] = (info, upload["content"])
            info = self._files[entry["id"]][0]
            if channel is not None:
                where = "ims" if channel.startswith("D") else "groups" if channel.startswith("G") else "channels"
                if channel not in info[where]:
                    info[where].append(channel)
                scope = "public" if where == "channels" else "private"
                info["shares"].setdefault(scope, {}).setdefault(channel, []).append({"ts": ts})
            shared.append({k: info[k] for k in ("id", "title", "name", "size", "permalink")})
        if channel is not None:
            message = self._message({"text": args.get("initial_comment", "")}, ts)
            message["files"] = shared
            self._conversations.setdefault(channel, []).append(message)
        return {"files": shared}

    def _reactions_add(self, args: dict[str, Any]) -> dict[str, Any]:
        _require(args, "channel", "timestamp", "name")
        key = (args["channel"], args["timestamp"], args["name"])
        if key in self._reactions:
            raise _ApiError("already_reacted")
        self._reactions.add(key)
        return {}
