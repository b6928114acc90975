"""Prove that the Slack doubles speak the protocol the real slack_sdk and Bolt expect.

If the double drifted from Slack's wire format, every test built on it would
pass against a fiction; these tests pin it to the real client and verifier.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

import pytest
from slack_bolt import App, BoltRequest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient

from tests.doubles.signing import (
    FORM_CONTENT_TYPE,
    JSON_CONTENT_TYPE,
    block_actions_payload,
    event_body,
    interactivity_body,
    message_shortcut_payload,
    post_signed,
    signed_headers,
    slash_command_body,
    view_submission_payload,
)
from tests.doubles.slack_api import BOT_USER_ID, TEAM_ID, SlackApiDouble, dm_channel_id
from tests.support import eventually

TOKEN = "xoxb-test"
SECRET = "test-signing-secret"
BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Risk R-1* needs review"}}]


@pytest.fixture
def slack() -> Iterator[SlackApiDouble]:
    with SlackApiDouble(token=TOKEN) as double:
        yield double


def client_for(double: SlackApiDouble, token: str = TOKEN, **kwargs: object) -> WebClient:
    return WebClient(token=token, base_url=double.base_url, **kwargs)


def test_base_url_ends_with_slash_and_stop_closes_socket() -> None:
    double = SlackApiDouble().start()
    url = double.base_url
    assert url.startswith("http://127.0.0.1:") and url.endswith("/api/")
    double.stop()
    with pytest.raises(OSError):
        urllib.request.urlopen(url + "auth.test", timeout=1)


def test_auth_test(slack: SlackApiDouble) -> None:
    response = client_for(slack).auth_test()
    assert response["ok"] is True
    assert (response["team_id"], response["user_id"], response["bot_id"]) == (TEAM_ID, BOT_USER_ID, "BBOT")
    assert response["url"].startswith("https://")


def test_post_message_with_blocks_json_body(slack: SlackApiDouble) -> None:
    client = client_for(slack)
    first = client.chat_postMessage(channel="C0ISMS", text="fallback", blocks=BLOCKS)
    second = client.chat_postMessage(channel="C0ISMS", text="again")

    assert first["channel"] == "C0ISMS"
    assert first["message"]["blocks"] == BLOCKS
    assert first["ts"] == "1700000000.000100"
    assert float(second["ts"]) > float(first["ts"])
    call = slack.calls_to("chat.postMessage")[0]
    assert call.headers["authorization"] == f"Bearer {TOKEN}"
    assert call.headers["content-type"].startswith("application/json")
    assert call.args["blocks"] == BLOCKS
    assert [m["text"] for m in slack.messages_to("C0ISMS")] == ["fallback", "again"]


def test_form_encoded_blocks_are_decoded(slack: SlackApiDouble) -> None:
    client_for(slack).api_call("chat.postMessage", data={"channel": "C1", "blocks": json.dumps(BLOCKS)})
    call = slack.wait_for("chat.postMessage")
    assert call.headers["content-type"] == FORM_CONTENT_TYPE
    assert call.args == {"channel": "C1", "blocks": BLOCKS}


def test_post_to_user_lands_in_dm_channel(slack: SlackApiDouble) -> None:
    client = client_for(slack)
    response = client.chat_postMessage(channel="U123", text="Please review")
    opened = client.conversations_open(users="U123")
    assert response["channel"] == dm_channel_id("U123") == opened["channel"]["id"]
    assert len(slack.messages_to("U123")) == 1
    assert len(slack.messages_to(dm_channel_id("U123"))) == 1


def test_message_methods(slack: SlackApiDouble) -> None:
    client = client_for(slack)
    ts = client.chat_postMessage(channel="C1", text="v1")["ts"]
    updated = client.chat_update(channel="C1", ts=ts, text="v2")
    assert (updated["ts"], updated["text"]) == (ts, "v2")
    assert client.chat_postEphemeral(channel="C1", user="U1", text="only you")["message_ts"]
    permalink = client.chat_getPermalink(channel="C1", message_ts=ts)["permalink"]
    assert permalink == f"https://example.slack.com/archives/C1/p{ts.replace('.', '')}"
    client.reactions_add(channel="C1", timestamp=ts, name="white_check_mark")
    with pytest.raises(SlackApiError) as error:
        client.reactions_add(channel="C1", timestamp=ts, name="white_check_mark")
    assert error.value.response["error"] == "already_reacted"
    with pytest.raises(SlackApiError) as error, pytest.warns(UserWarning, match="text"):
        client.chat_postMessage(channel="C1")
    assert error.value.response["error"] == "no_text"


def test_views_echo_the_view(slack: SlackApiDouble) -> None:
    client = client_for(slack)
    modal = {"type": "modal", "callback_id": "risk", "title": {"type": "plain_text", "text": "Risk"}, "blocks": []}
    opened = client.views_open(trigger_id="1.2.abc", view=modal)["view"]
    assert opened["id"].startswith("V") and opened["callback_id"] == "risk"
    updated = client.views_update(view_id=opened["id"], view={**modal, "private_metadata": "R-1"})["view"]
    assert (updated["id"], updated["private_metadata"]) == (opened["id"], "R-1")
    assert client.views_push(trigger_id="1.2.abc", view=modal)["view"]["id"] != opened["id"]
    home = client.views_publish(user_id="U1", view={"type": "home", "blocks": BLOCKS})["view"]
    assert home["type"] == "home" and slack.calls_to("views.publish")[0].args["view"]["blocks"] == BLOCKS


def test_users_info_and_lookup(slack: SlackApiDouble) -> None:
    slack.add_user("U1", "ciso@example.com", tz="America/New_York", name="ciso")
    client = client_for(slack)
    user = client.users_info(user="U1")["user"]
    assert (user["id"], user["name"], user["tz"]) == ("U1", "ciso", "America/New_York")
    assert user["tz_offset"] in (-5 * 3600, -4 * 3600)
    assert user["profile"]["email"] == "ciso@example.com"
    assert client.users_lookupByEmail(email="CISO@example.com")["user"]["id"] == "U1"
    with pytest.raises(SlackApiError) as error:
        client.users_info(user="U404")
    assert error.value.response["error"] == "user_not_found"


def test_files_info_and_download(slack: SlackApiDouble) -> None:
    slack.add_file("F1", "soa.csv", b"control,applicable\nA.5.1,yes\n")
    file = client_for(slack).files_info(file="F1")["file"]
    assert (file["name"], file["size"], file["mimetype"]) == ("soa.csv", 29, "text/csv")

    authorized = urllib.request.Request(file["url_private_download"], headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(authorized) as response:
        assert response.read() == b"control,applicable\nA.5.1,yes\n"
    with urllib.request.urlopen(file["url_private_download"]) as response:
        # Like files.slack.com: a login page with 200, not an error status.
        assert response.headers.get_content_type() == "text/html"


def test_wrong_and_missing_token(slack: SlackApiDouble) -> None:
    with pytest.raises(SlackApiError) as error:
        client_for(slack, token="xoxb-wrong").auth_test()
    assert error.value.response["error"] == "invalid_auth"
    with urllib.request.urlopen(urllib.request.Request(slack.base_url + "auth.test", data=b"")) as response:
        assert json.load(response) == {"ok": False, "error": "not_authed"}


def test_unknown_method(slack: SlackApiDouble) -> None:
    with pytest.raises(SlackApiError) as error:
        client_for(slack).api_call("isms.nonsense")
    assert error.value.response["error"] == "unknown_method"


def test_429_is_retried_by_rate_limit_handler(slack: SlackApiDouble) -> None:
    slack.fail_next("chat.postMessage", status=429, retry_after=1)
    client = client_for(slack, retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)])
    started = time.monotonic()
    assert client.chat_postMessage(channel="C1", text="hi")["ok"]
    assert time.monotonic() - started >= 1.0
    assert slack.throttled == 1 and len(slack.messages_to("C1")) == 1


def test_429_without_retry_handler_raises_with_retry_after(slack: SlackApiDouble) -> None:
    slack.fail_next("chat.postMessage", status=429, retry_after=1)
    with pytest.raises(SlackApiError) as error:
        client_for(slack).chat_postMessage(channel="C1", text="hi")
    assert error.value.response.status_code == 429
    assert error.value.response.headers["Retry-After"] == "1"
    assert error.value.response["error"] == "ratelimited"
    assert slack.messages_to("C1") == []
    assert slack.rejected[0].args == {"channel": "C1", "text": "hi"}


def test_fail_next_server_error_then_recovers(slack: SlackApiDouble) -> None:
    slack.fail_next("users.info", status=503, times=2)
    slack.add_user("U1", "a@example.com")
    client = client_for(slack)
    for _ in range(2):
        with pytest.raises(SlackApiError) as error:
            client.users_info(user="U1")
        assert error.value.response.status_code == 503
    assert client.users_info(user="U1")["ok"]


def test_rate_limit_throttles_above_rate(slack: SlackApiDouble) -> None:
    slack.set_rate_limit("chat.postMessage", per_second=0.1, burst=2)
    client = client_for(slack)
    outcomes = []
    for i in range(5):
        try:
            client.chat_postMessage(channel="C1", text=str(i))
            outcomes.append("ok")
        except SlackApiError as error:
            outcomes.append(error.response.headers["Retry-After"])
    assert outcomes[:2] == ["ok", "ok"]
    assert all(retry_after.isdigit() and int(retry_after) >= 1 for retry_after in outcomes[2:])
    assert slack.throttled == 3 and len(slack.messages_to("C1")) == 2


def test_fractional_retry_after_for_benchmarks() -> None:
    with SlackApiDouble(token=TOKEN, retry_after_format=float) as double:
        double.set_rate_limit("chat.postMessage", per_second=2)
        client = client_for(double)
        client.chat_postMessage(channel="C1", text="first")
        with pytest.raises(SlackApiError) as error:
            client.chat_postMessage(channel="C1", text="second")
        retry_after = error.value.response.headers["Retry-After"]
        assert "." in retry_after and 0 < float(retry_after) <= 0.5


def test_latency_delays_answers() -> None:
    with SlackApiDouble(token=TOKEN, latency=0.2) as double:
        started = time.monotonic()
        client_for(double).auth_test()
        assert time.monotonic() - started >= 0.2


def test_response_url_via_webhook_client(slack: SlackApiDouble) -> None:
    response = WebhookClient(slack.response_url("cmd-1")).send(text="done", replace_original=True)
    assert (response.status_code, response.body) == (200, "ok")
    [posted] = slack.responses
    assert posted.args == {"text": "done", "replace_original": True}
    assert posted.path.endswith("/cmd-1")


def test_wait_for_sees_calls_from_other_threads_and_explains_timeouts(slack: SlackApiDouble) -> None:
    client = client_for(slack)
    threading.Timer(0.1, lambda: client.chat_postMessage(channel="C9", text="late")).start()
    call = slack.wait_for(lambda c: c.args.get("channel") == "C9", timeout=5)
    assert call.args["text"] == "late"
    with pytest.raises(AssertionError, match=r"(?s)views\.open.*chat\.postMessage"):
        slack.wait_for("views.open", timeout=0.1)


def test_signed_headers_are_accepted_by_slack_verifier() -> None:
    body = slash_command_body("/isms", "risk list", "U1")
    headers = signed_headers(SECRET, body)
    verifier = SignatureVerifier(SECRET)
    timestamp, signature = headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    assert signature.startswith("v0=")
    assert verifier.is_valid(body, timestamp, signature)
    assert not verifier.is_valid(body.replace("risk", "rusk"), timestamp, signature)
    assert not verifier.is_valid_request(body, signed_headers(SECRET, body, timestamp=int(time.time()) - 600))


def test_slash_command_body_has_slacks_fields_in_order() -> None:
    fields = parse_qsl(slash_command_body("/isms", "risk list", "U1", response_url="http://x/r"))
    assert [name for name, _ in fields] == [
        "token", "team_id", "team_domain", "channel_id", "channel_name", "user_id", "user_name",
        "command", "text", "api_app_id", "is_enterprise_install", "response_url", "trigger_id",
    ]  # fmt: skip
    assert dict(fields)["text"] == "risk list"


class _BoltEndpoint(BaseHTTPRequestHandler):
    """What the bot's own HTTP endpoint does: hand the raw request to Bolt."""

    app: App

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"])).decode("utf-8")
        response = self.app.dispatch(BoltRequest(body=body, headers=dict(self.headers.items())))
        payload = response.body.encode("utf-8")
        self.send_response(response.status)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def bolt(slack: SlackApiDouble) -> Iterator[tuple[App, str]]:
    """A real Bolt app wired to the double, served over HTTP so requests go through signature checks."""
    app = App(signing_secret=SECRET, client=client_for(slack))
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Endpoint", (_BoltEndpoint,), {"app": app}))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{server.server_address[1]}/slack/events"
    server.shutdown()
    server.server_close()
    thread.join()


def test_bolt_accepts_signed_command_and_responds_through_double(slack: SlackApiDouble, bolt: tuple[App, str]) -> None:
    app, url = bolt

    @app.command("/isms")
    def handle(ack, respond, command) -> None:  # type: ignore[no-untyped-def]
        ack()
        respond(text=f"echo {command['text']}")

    body = slash_command_body("/isms", "status", "U1", response_url=slack.response_url("c1"))
    assert post_signed(url, SECRET, body, FORM_CONTENT_TYPE)[0] == 200
    assert slack.wait_for("response_url").args["text"] == "echo status"
    assert slack.calls_to("auth.test"), "Bolt verifies its token against the double on start"

    assert post_signed(url, "wrong-secret", body, FORM_CONTENT_TYPE)[0] == 401


def test_bolt_routes_interactivity_and_events(slack: SlackApiDouble, bolt: tuple[App, str]) -> None:
    app, url = bolt
    seen: list[str] = []

    @app.action("approve")
    def on_action(ack, body) -> None:  # type: ignore[no-untyped-def]
        ack()
        seen.append(f"action:{body['actions'][0]['value']}")

    @app.view("risk")
    def on_view(ack, view) -> None:  # type: ignore[no-untyped-def]
        ack()
        seen.append(f"view:{view['state']['values']['b']['a']['value']}")

    @app.message_shortcut("raise_risk")
    def on_shortcut(ack, shortcut) -> None:  # type: ignore[no-untyped-def]
        ack()
        seen.append(f"shortcut:{shortcut['message']['text']}")

    @app.event("app_mention")
    def on_mention(event) -> None:  # type: ignore[no-untyped-def]
        seen.append(f"event:{event['text']}")

    values = {"b": {"a": {"type": "plain_text_input", "value": "R-7"}}}
    for payload in (
        block_actions_payload("U1", "approve", "R-1", response_url=slack.response_url("a")),
        view_submission_payload("U1", "risk", values),
        message_shortcut_payload("U1", "raise_risk", {"type": "message", "ts": "1.2", "text": "leak"}),
    ):
        assert post_signed(url, SECRET, interactivity_body(payload), FORM_CONTENT_TYPE)[0] == 200
    event = {"type": "app_mention", "user": "U1", "text": "hi", "channel": "C1", "ts": "1.3", "event_ts": "1.3"}
    assert post_signed(url, SECRET, event_body(event, "Ev1"), JSON_CONTENT_TYPE)[0] == 200

    assert eventually(lambda: len(seen) >= 4, timeout=5)
    assert sorted(seen) == ["action:R-1", "event:hi", "shortcut:leak", "view:R-7"]
