"""The outbox: effects survive failures, are retried with backoff and Retry-After, sent once, or parked."""

from __future__ import annotations

import random
import threading
from collections import Counter
from datetime import timedelta

from sqlalchemy import select, text

from storage import migrate, outbox
from storage.db import is_postgresql, make_engine, make_sessions
from storage.models import OutboxEffect
from storage.outbox import Backoff, Dispatcher, RetryLater, Undeliverable
from tests.support import FakeClock


def queue(sessions, clock, *keys: str, kind: str = "slack.post") -> None:
    with sessions.begin() as session:
        for key in keys:
            outbox.enqueue(session, kind=kind, key=key, payload={"text": key}, now=clock())


def status_of(sessions, key: str) -> OutboxEffect:
    with sessions() as session:
        return session.scalars(select(OutboxEffect).where(OutboxEffect.key == key)).one()


class FlakyReceiver:
    """Fails the first ``failures`` attempts per key (of ``only``, if given) with ``error``, then accepts."""

    def __init__(self, failures: int, error: Exception, only: set[str] | None = None):
        self.failures = failures
        self.error = error
        self.only = only
        self.attempts: Counter[str] = Counter()
        self.delivered: list[str] = []

    def __call__(self, effect: outbox.Effect):
        self.attempts[effect.key] += 1
        if self.attempts[effect.key] <= self.failures and (self.only is None or effect.key in self.only):
            raise self.error
        self.delivered.append(effect.key)
        return {"id": effect.key}


def test_same_key_is_queued_once(sessions, clock):
    queue(sessions, clock, "a")
    queue(sessions, clock, "a")
    with sessions() as session:
        assert len(session.scalars(select(OutboxEffect)).all()) == 1


def test_5xx_is_retried_with_backoff_until_delivered_once(sessions, clock: FakeClock):
    receiver = FlakyReceiver(2, RetryLater("Slack answered 503"))
    dispatcher = Dispatcher(
        sessions, {"slack.post": receiver}, clock, backoff=Backoff(base=10, cap=100, rng=random.Random(7))
    )
    queue(sessions, clock, "m1")
    assert dispatcher.run_once().retried == 1
    effect = status_of(sessions, "m1")
    assert effect.status == "pending" and effect.attempts == 1 and "503" in effect.last_error
    first_delay = random.Random(7).uniform(0, 10)  # full jitter over [0, base * 2**0]
    assert effect.next_attempt_at == clock() + timedelta(seconds=first_delay)
    assert dispatcher.run_once().sent == 0  # not due before its backoff
    clock.advance(seconds=100)
    dispatcher.run_once()
    clock.advance(seconds=100)
    dispatcher.run_once()
    clock.advance(seconds=100)
    dispatcher.run_once()
    assert receiver.delivered == ["m1"]
    assert receiver.attempts["m1"] == 3
    assert status_of(sessions, "m1").status == "sent"


def test_429_retry_after_is_honoured_and_pauses_the_whole_service(sessions, clock: FakeClock):
    receiver = FlakyReceiver(1, RetryLater("throttled", retry_after=30), only={"m1"})
    other = FlakyReceiver(0, RetryLater("unused"))
    dispatcher = Dispatcher(sessions, {"slack.post": receiver, "jira.create": other}, clock)
    queue(sessions, clock, "m1", "m2")
    queue(sessions, clock, "j1", kind="jira.create")
    dispatcher.run_once()
    # m1 was throttled; m2 was not even tried while Slack asked us to wait; Jira is unaffected
    assert receiver.attempts == Counter({"m1": 1})
    assert other.delivered == ["j1"]
    assert status_of(sessions, "m1").next_attempt_at == clock() + timedelta(seconds=30)
    clock.advance(seconds=29)
    dispatcher.run_once()
    assert receiver.delivered == []
    clock.advance(seconds=2)
    dispatcher.drain()
    assert receiver.delivered == ["m1", "m2"]
    assert status_of(sessions, "m2").attempts == 1


def test_dead_letter_after_max_attempts_is_visible(sessions, clock: FakeClock):
    receiver = FlakyReceiver(99, RetryLater("Jira answered 503"))
    dead: list[str] = []
    dispatcher = Dispatcher(
        sessions,
        {"jira.create": receiver},
        clock,
        max_attempts=3,
        backoff=Backoff(base=1, cap=1),
        on_dead=lambda effect: dead.append(effect.key),
    )
    queue(sessions, clock, "t1", kind="jira.create")
    for _ in range(5):
        dispatcher.run_once()
        clock.advance(seconds=2)
    assert receiver.attempts["t1"] == 3
    assert dead == ["t1"]
    with sessions() as session:
        assert [e.key for e in outbox.dead_effects(session)] == ["t1"]
        assert outbox.counts_by_status(session) == {"dead": 1}


def test_undeliverable_is_parked_at_once(sessions, clock):
    receiver = FlakyReceiver(1, Undeliverable("channel_not_found"))
    dispatcher = Dispatcher(sessions, {"slack.post": receiver}, clock)
    queue(sessions, clock, "m1")
    dispatcher.drain()
    effect = status_of(sessions, "m1")
    assert effect.status == "dead" and "channel_not_found" in effect.last_error
    assert receiver.attempts["m1"] == 1


def test_sender_bug_is_retried_not_lost(sessions, clock):
    receiver = FlakyReceiver(1, KeyError("channel"))
    dispatcher = Dispatcher(sessions, {"slack.post": receiver}, clock, backoff=Backoff(base=1, cap=1))
    queue(sessions, clock, "m1")
    dispatcher.run_once()
    clock.advance(seconds=2)
    dispatcher.run_once()
    assert receiver.delivered == ["m1"]


def test_claim_lease_expires_after_a_crash(sessions, clock: FakeClock):
    queue(sessions, clock, "m1")
    crashed = Dispatcher(sessions, {"slack.post": FlakyReceiver(0, RetryLater(""))}, clock, lease=timedelta(minutes=2))
    crashed._claim(10)  # claimed, then the process "dies" before sending
    survivor_receiver = FlakyReceiver(0, RetryLater(""))
    survivor = Dispatcher(sessions, {"slack.post": survivor_receiver}, clock)
    survivor.run_once()
    assert survivor_receiver.delivered == []
    clock.advance(minutes=3)
    survivor.run_once()
    assert survivor_receiver.delivered == ["m1"]


def test_result_of_an_earlier_effect_is_available_to_later_ones(sessions, clock):
    seen = []

    def sender(effect: outbox.Effect):
        seen.append(effect.result_of("root") if effect.key != "root" else None)
        return {"ts": "1.0"} if effect.key == "root" else {}

    queue(sessions, clock, "root", "reply")
    Dispatcher(sessions, {"slack.post": sender}, clock).drain()
    assert seen == [None, {"ts": "1.0"}]


def test_concurrent_dispatchers_on_postgresql_send_each_effect_once(postgres_url):
    engine = make_engine(postgres_url, pool_size=10)
    migrate.upgrade(engine)
    sessions = make_sessions(engine)
    clock = FakeClock()
    keys = [f"m{i}" for i in range(300)]
    queue(sessions, clock, *keys)
    delivered: list[str] = []
    lock = threading.Lock()

    def sender(effect: outbox.Effect):
        with lock:
            delivered.append(effect.key)
        return {}

    dispatchers = [Dispatcher(sessions, {"slack.post": sender}, clock) for _ in range(4)]
    threads = [threading.Thread(target=d.drain, kwargs={"limit": 7}) for d in dispatchers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(delivered) == sorted(keys)
    with sessions() as session:
        assert outbox.counts_by_status(session) == {"sent": 300}
    engine.dispose()


def test_two_transactions_queueing_one_key_at_once_both_succeed_and_queue_it_once(sessions, clock):
    """A Slack retry racing the original request queues the same reply key: the second transaction
    must neither fail (it did on PostgreSQL, a unique violation turned into a 500) nor queue twice."""
    first_inserted, second_started = threading.Event(), threading.Event()
    new: dict[str, int] = {}
    failures: list[BaseException] = []

    def first() -> None:
        with sessions.begin() as session:
            new["first"] = outbox.enqueue_many(session, {"reply:k": ("chat.message", {"to": "person:x"})}, clock())
            first_inserted.set()
            second_started.wait(timeout=5)
            if is_postgresql(session):  # commit only once the second insert waits on this one's key
                with sessions() as watcher:
                    waiting = text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                    )
                    for _ in range(500):
                        watcher.execute(text("SELECT pg_stat_clear_snapshot()"))  # else read once per transaction
                        if watcher.scalar(waiting):
                            break
                        threading.Event().wait(0.01)

    def second() -> None:
        first_inserted.wait(timeout=5)
        second_started.set()
        try:
            with sessions.begin() as session:
                new["second"] = outbox.enqueue_many(session, {"reply:k": ("chat.message", {"to": "person:x"})}, clock())
        except BaseException as error:  # the old check-then-insert raised IntegrityError here
            failures.append(error)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert failures == [] and new == {"first": 1, "second": 0}
    with sessions() as session:
        assert session.scalars(select(OutboxEffect.key)).all() == ["reply:k"]
