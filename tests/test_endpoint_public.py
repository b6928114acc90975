"""The public endpoint against forged, malformed and oversized requests, on the bot's real HTTP server.

Nothing unauthenticated reaches Bolt or the log; nothing malformed gets a 5xx; bodies are capped on
every route before anything reads them.
"""

from __future__ import annotations

import copy
import http.client
import json
import logging
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlparse

import pytest

from bot.http import MAX_BODY
from tests.conftest import SIGNING_SECRET
from tests.doubles.signing import (
    FORM_CONTENT_TYPE,
    JSON_CONTENT_TYPE,
    block_actions_payload,
    event_body,
    interactivity_body,
    message_shortcut_payload,
    signed_headers,
    slash_command_body,
    view_submission_payload,
)
from tests.slack_client import text_of

MARKER = "BODY-MARKER-7f3a"


def send(
    url: str, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    where = urlparse(url)
    connection = http.client.HTTPConnection(where.hostname, where.port, timeout=20)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def signed(body: str, content_type: str = FORM_CONTENT_TYPE) -> tuple[bytes, dict[str, str]]:
    return body.encode(), signed_headers(SIGNING_SECRET, body, content_type=content_type)


def unsigned_requests() -> list[tuple[str, bytes, dict[str, str]]]:
    now = str(int(time.time()))
    form = {"Content-Type": FORM_CONTENT_TYPE}
    command = slash_command_body("/isms", f"help {MARKER}", "U0ERIN").encode()
    good = signed_headers(SIGNING_SECRET, command.decode())
    return [
        ("json content type, broken body", f'{{"{MARKER}": '.encode(), {"Content-Type": JSON_CONTENT_TYPE}),
        ("timestamp abc", command, {**good, "X-Slack-Request-Timestamp": "abc"}),
        ("timestamp in other digits", command, {**good, "X-Slack-Request-Timestamp": "17²0000000"}),
        ("payload junk", f"payload=%7Bjunk{MARKER}".encode(), form),
        (
            "payload junk, bad signature",
            b"payload=%7Bjunk",
            {**form, "X-Slack-Request-Timestamp": now, "X-Slack-Signature": "v0=00"},
        ),
        ("no signature", command, form),
        ("wrong secret", command, signed_headers("not-the-secret", command.decode())),
        ("stale", command, signed_headers(SIGNING_SECRET, command.decode(), timestamp=int(time.time()) - 400)),
        ("future", command, signed_headers(SIGNING_SECRET, command.decode(), timestamp=int(time.time()) + 400)),
        ("signature of another body", command + b"&x=1", good),
        ("signature not ascii", command, {**good, "X-Slack-Signature": "v0=é"}),
        (
            "body not utf-8",
            b"\xff\xfe" + MARKER.encode(),
            {**form, "X-Slack-Request-Timestamp": now, "X-Slack-Signature": "v0=00"},
        ),
        ("empty", b"", {}),
    ]


@pytest.mark.parametrize("case", range(len(unsigned_requests())))
def test_unauthenticated_malformed_requests_get_401_and_their_body_is_never_logged(bot, slack, caplog, case):
    name, body, headers = unsigned_requests()[case]
    caplog.set_level(logging.DEBUG)
    status, answer = send(bot.url, "POST", "/slack/events", body, headers)
    assert status in (400, 401), (name, status, answer)
    assert MARKER not in caplog.text
    assert slack.responses == []


def test_refused_requests_are_logged_as_a_count_not_one_line_each(bot, caplog):
    caplog.set_level(logging.DEBUG)
    for _ in range(20):
        assert (
            send(bot.url, "POST", "/slack/events", MARKER.encode() * 50, {"Content-Type": FORM_CONTENT_TYPE})[0] == 401
        )
    refused = [r for r in caplog.records if "without a valid signature" in r.getMessage()]
    assert len(refused) == 1 and MARKER not in caplog.text


def refused_before_read(url: str, method: str, path: str, *, chunked: bool) -> int:
    """Announce (or stream) a body over the cap and read the answer, without insisting on sending it all:
    a server that refuses early closes the connection while the client is still sending."""
    where = urlparse(url)
    with socket.create_connection((where.hostname, where.port), timeout=20) as connection:
        framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {MAX_BODY + 1}"
        head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {FORM_CONTENT_TYPE}\r\n{framing}\r\n\r\n"
        connection.sendall(head.encode())
        piece = (MARKER * (65536 // len(MARKER))).encode()
        try:
            for _ in range(MAX_BODY // len(piece) + 2):
                connection.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            if chunked:
                connection.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused while we were still sending: the answer is waiting
        answer = b""
        try:
            while b"\r\n" not in answer and (data := connection.recv(4096)):
                answer += data
        except ConnectionResetError:
            pass
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/slack/events"), ("POST", "/jira/webhook"), ("GET", "/healthz"), ("POST", "/nope")]
)
@pytest.mark.parametrize("chunked", [False, True])
def test_every_route_refuses_a_body_over_the_cap_before_reading_it(bot, caplog, method, path, chunked):
    caplog.set_level(logging.DEBUG)
    assert refused_before_read(bot.url, method, path, chunked=chunked) == 413
    assert MARKER not in caplog.text
    assert send(bot.url, "GET", "/healthz")[0] == 200


def test_the_application_caps_bodies_even_behind_another_server(bot):
    """The WSGI app checks the length itself, so the cap holds under any server."""
    answers: list[str] = []
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/slack/events", "CONTENT_LENGTH": str(MAX_BODY + 1)}
    body = bot.wsgi(environ, lambda status, headers, *rest: answers.append(status))
    assert answers == ["413 Content Too Large"] and b"body over" in b"".join(body)


def test_a_body_under_the_cap_is_still_read(bot, slack):
    big = slash_command_body("/isms", "help " + "x" * 200_000, "U0ERIN", response_url=slack.response_url("big"))
    assert send(bot.url, "POST", "/slack/events", *signed(big))[0] == 200
    assert "isms" in text_of(slack.wait_for(lambda c: c.path.endswith("/response/big")).args)


# -- signed, but malformed: every field of every kind of request, removed or of the wrong type -----------


def realistic_payloads() -> list[tuple[str, Any]]:
    """One of each request the bot receives, as Slack sends them (form fields or a JSON payload)."""
    view_state = {"what": {"what": {"type": "plain_text_input", "value": "x"}}}
    return [
        ("command", dict(parse_qsl(slash_command_body("/isms", "help", "U0ERIN")))),
        ("button", block_actions_payload("U0ERIN", "incident_classify", "INC-2026-0001")),
        ("form", view_submission_payload("U0ERIN", "incident_report", view_state)),
        ("shortcut", message_shortcut_payload("U0ERIN", "report_incident", {"text": "hi", "ts": "1.2"})),
        ("event", json.loads(event_body({"type": "app_home_opened", "user": "U0SAM", "tab": "home"}, "Ev9"))),
    ]


WRONG = [None, 7, "text", {}, [1, "x"]]


def mutations(payload: dict[str, Any]):  # type: ignore[no-untyped-def]
    """Each field (top level and one level down) removed, then replaced by each wrong value."""
    paths = [(key,) for key in payload]
    paths += [(key, sub) for key, value in payload.items() if isinstance(value, dict) for sub in value]
    paths += [(key, 0) for key, value in payload.items() if isinstance(value, list) and value]
    for path in paths:
        for replacement in ["<removed>", *WRONG]:
            mutated = copy.deepcopy(payload)
            parent = mutated
            for step in path[:-1]:
                parent = parent[step]
            if replacement == "<removed>":
                del parent[path[-1]]
            else:
                parent[path[-1]] = replacement
            yield path, replacement, mutated


def encode(kind: str, payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    if kind == "event":
        return signed(json.dumps(payload), JSON_CONTENT_TYPE)
    if kind == "command":
        return signed(urlencode({k: v if isinstance(v, str) else json.dumps(v) for k, v in payload.items()}))
    return signed(interactivity_body(payload))


def test_signed_malformed_payloads_never_get_a_5xx(bot, slack, caplog):
    caplog.set_level(logging.WARNING)
    cases: list[tuple[Any, bytes, dict[str, str]]] = []
    for kind, payload in realistic_payloads():
        for path, replacement, mutated in mutations(payload):
            cases.append(((kind, path, replacement), *encode(kind, mutated)))
    for name, raw, content_type in [
        ("broken json", '{"type": "event_callback", ', JSON_CONTENT_TYPE),
        ("json list", "[1, 2]", JSON_CONTENT_TYPE),
        ("json string", '"event_callback"', JSON_CONTENT_TYPE),
        ("payload junk", "payload=%7Bjunk", FORM_CONTENT_TYPE),
        ("payload list", "payload=%5B1%5D", FORM_CONTENT_TYPE),
        ("unknown action", interactivity_body(block_actions_payload("U0ERIN", "no.such", "v")), FORM_CONTENT_TYPE),
        ("unknown command", slash_command_body("/nosuch", "x", "U0ERIN"), FORM_CONTENT_TYPE),
        ("unknown event", event_body({"type": "reaction_added", "user": "U0SAM"}, "Ev10"), JSON_CONTENT_TYPE),
        ("empty form", "", FORM_CONTENT_TYPE),
    ]:
        cases.append((name, *signed(raw, content_type)))

    def status_of(case: tuple[Any, bytes, dict[str, str]]) -> tuple[Any, int]:
        name, body, headers = case
        return name, send(bot.url, "POST", "/slack/events", body, headers)[0]

    with ThreadPoolExecutor(8) as pool:  # as Slack would: several at once
        answers = list(pool.map(status_of, cases))
    failures = [(name, status) for name, status in answers if status >= 500]
    assert failures == [], f"{len(failures)} of {len(answers)} got a 5xx: {failures}"
    assert len(answers) > 300
    assert send(bot.url, "GET", "/healthz")[0] == 200


def test_an_unknown_command_gets_a_polite_answer(bot, slack):
    from tests.slack_client import SlackUser

    erin = SlackUser(bot.url, slack, "U0ERIN")
    status, reply = erin.command("/nosuch", "x")
    assert status == 200
    assert "I don't know /nosuch" in erin.reply_text(reply)


def test_stop_closes_open_connections_and_returns_promptly(slack_settings, clock):
    from bot.server import BotServer

    server = BotServer(slack_settings, clock=clock).start()
    where = urlparse(server.url)
    idle = http.client.HTTPConnection(where.hostname, where.port, timeout=5)  # a keep-alive client, idle
    idle.request("GET", "/healthz")
    answer = idle.getresponse()
    assert answer.status == 200 and answer.read()
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 3
    assert idle.sock.recv(1) == b""  # closed by the server
    with pytest.raises(OSError):
        socket.create_connection((where.hostname, where.port), timeout=1)


def test_http_threads_and_connection_limit_are_settings(slack_settings, clock):
    from bot.server import BotServer
    from config.settings import load_settings

    assert (load_settings().http_threads, load_settings().http_connection_limit) == (8, 1000)
    tuned = slack_settings.model_copy(update={"http_threads": 3, "http_connection_limit": 7})
    with BotServer(tuned, clock=clock) as server:
        adjustments = server.http_adjustments
        assert (adjustments.threads, adjustments.connection_limit) == (3, 7)
        assert adjustments.max_request_body_size == MAX_BODY
