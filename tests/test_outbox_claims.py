"""Claims and marks: a short lease kept alive by a heartbeat, a batch's outcomes written together, and
the start of an attempt whose outcome is unknown handed to the next attempt's sender."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from storage import outbox
from storage.models import OutboxEffect
from storage.outbox import Backoff, Dispatcher, RetryLater
from tests.support import FakeClock, eventually


def queue(sessions: sessionmaker[Session], clock: FakeClock, *keys: str, kind: str = "chat.message") -> None:
    with sessions.begin() as session:
        for key in keys:
            outbox.enqueue(session, kind=kind, key=key, payload={"to": f"person:{key}"}, now=clock())


def row(sessions: sessionmaker[Session], key: str) -> OutboxEffect:
    with sessions() as session:
        return session.scalars(select(OutboxEffect).where(OutboxEffect.key == key)).one()


class Recorder:
    """Records every attempt; fails the first attempts of a key with the errors given for it."""

    def __init__(self, **errors: list[Exception]):
        self.errors = errors
        self.seen: list[outbox.Effect] = []

    def __call__(self, effect: outbox.Effect) -> dict[str, str]:
        self.seen.append(effect)
        if self.errors.get(effect.key):
            raise self.errors[effect.key].pop(0)
        return {"ts": effect.key}


def test_an_attempt_cut_short_by_a_crash_is_handed_on_as_unsure(sessions, clock: FakeClock):
    queue(sessions, clock, "m1")
    crashed = Dispatcher(sessions, {"chat.message": Recorder()}, clock, lease=timedelta(seconds=15))
    claimed_at = clock()
    crashed._claim(10)  # claimed, then the process dies before it can mark what it sent
    clock.advance(seconds=16)
    survivor = Recorder()
    Dispatcher(sessions, {"chat.message": survivor}, clock).run_once()
    assert [effect.unsure_since for effect in survivor.seen] == [claimed_at]
    assert row(sessions, "m1").status == "sent" and row(sessions, "m1").unsure_since is None


def test_a_5xx_makes_later_attempts_unsure_a_429_does_not(sessions, clock: FakeClock):
    queue(sessions, clock, "throttled", "failed")
    sender = Recorder(
        throttled=[RetryLater("Slack is throttling (429)", 0.001, maybe_delivered=False)],
        failed=[RetryLater("Slack answered 500"), RetryLater("Slack answered 503")],
    )
    dispatcher = Dispatcher(sessions, {"chat.message": sender}, clock, backoff=Backoff(base=1, cap=1))
    first_attempt = clock()
    dispatcher.run_once()
    clock.advance(seconds=2)
    dispatcher.run_once()
    clock.advance(seconds=2)
    dispatcher.run_once()
    attempts = [(effect.key, effect.attempt, effect.unsure_since) for effect in sender.seen]
    assert attempts == [
        ("throttled", 1, None),
        ("failed", 1, None),
        ("throttled", 2, None),
        ("failed", 2, first_attempt),
        ("failed", 3, first_attempt),  # the earliest unsure attempt, not the latest
    ]


def test_the_heartbeat_keeps_a_short_claim_while_the_sender_works(sessions, clock: FakeClock):
    queue(sessions, clock, "slow")
    started, finish = threading.Event(), threading.Event()
    sent: list[str] = []

    def slow(effect: outbox.Effect) -> dict[str, str]:
        started.set()
        finish.wait(10)
        sent.append(effect.key)
        return {}

    working = Dispatcher(sessions, {"chat.message": slow}, clock, lease=timedelta(seconds=15), heartbeat=0.01)
    worker = threading.Thread(target=working.run_once)
    worker.start()
    try:
        assert started.wait(10)
        clock.advance(seconds=60)  # four leases later, the claim is still alive
        renewed = eventually(lambda: row(sessions, "slow").claimed_until > clock(), timeout=10)  # type: ignore[operator]
        assert renewed, "the claim was never renewed"
        other = Recorder()
        assert Dispatcher(sessions, {"chat.message": other}, clock).run_once() == outbox.DispatchReport()
        assert other.seen == []
    finally:
        finish.set()
        worker.join(10)
    assert sent == ["slow"] and row(sessions, "slow").status == "sent"


def test_a_batch_is_claimed_and_marked_in_a_few_transactions(sessions, clock: FakeClock):
    keys = [f"m{n}" for n in range(50)]
    queue(sessions, clock, *keys)
    commits: list[int] = []
    engine = sessions.kw["bind"]
    event.listen(engine, "commit", lambda connection: commits.append(1))
    sender = Recorder(**{key: [RetryLater("Slack answered 500")] for key in keys[:5]})
    report = Dispatcher(sessions, {"chat.message": sender}, clock).run_once(limit=100)
    assert (report.sent, report.retried) == (45, 5)
    assert len(commits) <= 3  # one claim, then the outcomes together (was one transaction per effect)
    with sessions() as session:
        assert outbox.counts_by_status(session) == {"sent": 45, "pending": 5}


def test_a_reply_in_the_same_batch_sees_its_root_before_the_root_is_marked(sessions, clock: FakeClock):
    with sessions.begin() as session:
        outbox.enqueue(session, kind="chat.message", key="root", payload={"to": "channel:triage"}, now=clock())
        outbox.enqueue(session, kind="chat.message", key="reply", payload={"thread_of": "root"}, now=clock())
    roots: list[object] = []

    def sender(effect: outbox.Effect) -> dict[str, str]:
        if effect.key == "reply":
            roots.append(effect.result_of("root"))
        return {"ts": "1.0"}

    assert Dispatcher(sessions, {"chat.message": sender}, clock).run_once().sent == 2
    assert roots == [{"ts": "1.0"}]
