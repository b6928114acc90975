"""Posts through the outbox reach Slack exactly once whatever happens to the answers: 429, 500, an
answer lost after Slack posted (500, a closed connection, a timeout) on chat.postMessage and
chat.update, for a channel post, a thread reply, an edit and a DM. The real Slack sender talks HTTP to
the Slack double; the outbox table says what was sent."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.slack.blocks import fallback_text, message_blocks
from config.catalogue import load_catalogue
from config.organisation import Organisation, load_organisation
from config.settings import PACKAGED_EXAMPLE_ORG
from integrations.slack_sender import LOOKUP_PAGE_SIZE, METADATA_EVENT, SlackChatSender, make_web_client
from storage import outbox
from storage.models import OutboxEffect
from storage.outbox import Backoff, Dispatcher
from tests.doubles.slack_api import SlackApiDouble, dm_channel_id
from tests.support import FakeClock
from workflows.kernel.ui import Message

TOKEN = "xoxb-test"
TRIAGE = "C0TRIAGE"
DM_USER = "U0DM"


@pytest.fixture(scope="module")
def org() -> Organisation:
    return load_organisation(PACKAGED_EXAMPLE_ORG, set(load_catalogue().ids))


@pytest.fixture
def slack(clock: FakeClock) -> Iterator[SlackApiDouble]:
    """Slack's clock is the test's clock, so message timestamps and ``oldest`` agree."""
    with SlackApiDouble(token=TOKEN, clock=lambda: clock().timestamp()) as double:
        yield double


def dispatcher(sessions: sessionmaker[Session], clock: FakeClock, slack: SlackApiDouble, org: Organisation):  # type: ignore[no-untyped-def]
    client = make_web_client(TOKEN, slack.base_url, timeout=1)
    sender = SlackChatSender(client, org, message_blocks, fallback_text)
    return Dispatcher(sessions, {"chat.message": sender}, clock, backoff=Backoff(base=1, cap=1), max_attempts=20)


def queue(sessions: sessionmaker[Session], clock: FakeClock, *effects: tuple[str, dict[str, Any]]) -> None:
    with sessions.begin() as session:
        for key, payload in effects:
            outbox.enqueue(session, kind="chat.message", key=key, payload=payload, now=clock())


def message(text: str) -> dict[str, Any]:
    return Message(text).to_dict()


CONVERSATION = (
    ("root", {"to": "channel:security_triage", "message": message("INC-1 reported")}),
    ("reply", {"thread_of": "root", "message": message("triaged as P2")}),
    ("edit", {"replaces": "root", "message": message("INC-1 reported (P2)")}),
    ("dm", {"to": f"slack:{DM_USER}", "message": message("your reference is INC-1")}),
)


def deliver(sessions: sessionmaker[Session], clock: FakeClock, sending: Dispatcher, expected: int) -> None:
    for _ in range(30):
        sending.run_once()
        with sessions() as session:
            if outbox.counts_by_status(session) == {"sent": expected}:
                return
        clock.advance(seconds=5)
    with sessions() as session:
        raise AssertionError(f"not all sent: {outbox.counts_by_status(session)}")


def posts_by_key(slack: SlackApiDouble, *conversations: str) -> Counter[str]:
    """How many messages Slack holds for each outbox key."""
    found: Counter[str] = Counter()
    for conversation in conversations:
        for stored in slack.conversation(conversation):
            metadata = stored.get("metadata") or {}
            assert metadata.get("event_type") == METADATA_EVENT
            found[metadata["event_payload"]["key"]] += 1
    return found


FAULTS = [
    pytest.param("fail", "429", id="429"),
    pytest.param("fail", "500", id="500-before-posting"),
    pytest.param("lose", "500", id="500-after-posting"),
    pytest.param("lose", "close", id="connection-closed-after-posting"),
    pytest.param("lose", "hang", id="timeout-after-posting"),
]


@pytest.mark.parametrize("method", ["chat.postMessage", "chat.update"])
@pytest.mark.parametrize(("how", "fault"), FAULTS)
def test_every_post_lands_once_whatever_happens_to_the_answer(
    sessions, clock: FakeClock, slack: SlackApiDouble, org: Organisation, method: str, how: str, fault: str
):
    times = 3 if method == "chat.postMessage" else 1  # every post (root, reply, dm) has its first answer spoiled
    if how == "fail":
        slack.fail_next(method, int(fault), retry_after=0.01 if fault == "429" else None, times=times)
    else:
        slack.lose_answers(method, fault, times=times)
    queue(sessions, clock, *CONVERSATION)

    deliver(sessions, clock, dispatcher(sessions, clock, slack, org), expected=4)

    assert posts_by_key(slack, TRIAGE, DM_USER) == Counter({"root": 1, "reply": 1, "dm": 1})  # 0 lost, 0 doubled
    root = next(m for m in slack.conversation(TRIAGE) if m["metadata"]["event_payload"]["key"] == "root")
    assert root["text"] == "INC-1 reported (P2)"  # the edit landed on the one root message
    reply = next(m for m in slack.conversation(TRIAGE) if m["metadata"]["event_payload"]["key"] == "reply")
    assert reply["thread_ts"] == root["ts"]
    with sessions() as session:
        results = {row.key: row.result for row in session.execute(select(OutboxEffect.key, OutboxEffect.result))}
    assert results["root"] == {"channel": TRIAGE, "ts": root["ts"]}
    assert results["dm"]["channel"] == dm_channel_id(DM_USER)
    if how == "lose" and method == "chat.postMessage":
        assert len(slack.lost) == 3  # the faults did happen: three posts whose answers were lost


def test_a_429_leaves_nothing_to_look_up(sessions, clock: FakeClock, slack: SlackApiDouble, org: Organisation):
    slack.fail_next("chat.postMessage", 429, retry_after=0.01)
    queue(sessions, clock, CONVERSATION[0])
    deliver(sessions, clock, dispatcher(sessions, clock, slack, org), expected=1)
    assert slack.calls_to("conversations.history") == []
    assert posts_by_key(slack, TRIAGE) == Counter({"root": 1})


def test_the_look_up_pages_through_a_busy_channel(sessions, clock: FakeClock, slack: SlackApiDouble, org: Organisation):
    slack.lose_answers("chat.postMessage", "500")
    queue(sessions, clock, CONVERSATION[0])
    sending = dispatcher(sessions, clock, slack, org)
    sending.run_once()
    busy = make_web_client(TOKEN, slack.base_url)
    for n in range(2 * LOOKUP_PAGE_SIZE + 10):  # people talk in the channel before the retry
        busy.chat_postMessage(channel=TRIAGE, text=f"chatter {n}")
    deliver(sessions, clock, sending, expected=1)
    ours = [m for m in slack.conversation(TRIAGE) if m.get("metadata")]
    assert [m["metadata"]["event_payload"]["key"] for m in ours] == ["root"]
    pages = slack.calls_to("conversations.history")
    assert len(pages) == 3 and pages[0].args["include_all_metadata"] in ("1", "true", True)


def test_a_conversation_the_bot_cannot_read_is_posted_again_rather_than_lost(
    sessions, clock: FakeClock, slack: SlackApiDouble, org: Organisation
):
    slack.lose_answers("chat.postMessage", "500")
    slack.fail_next("conversations.history", 200, error="missing_scope")
    queue(sessions, clock, CONVERSATION[0])
    deliver(sessions, clock, dispatcher(sessions, clock, slack, org), expected=1)
    assert posts_by_key(slack, TRIAGE) == Counter({"root": 2})  # at least once: never lost
