"""Sending a large fan-out against a rate limit: throttling never loses an effect, a short Retry-After
is waited out in place, sending in parallel keeps each conversation's order, and paced sending never
claims more than it can send within the claim's lease."""

from __future__ import annotations

import random
import threading
import time
from collections import defaultdict
from datetime import timedelta

from storage import outbox
from storage.outbox import Dispatcher, RetryLater
from tests.support import FakeClock


def queue(sessions, clock, effects: list[tuple[str, str, dict]]) -> None:  # type: ignore[no-untyped-def]
    with sessions.begin() as session:
        for kind, key, payload in effects:
            outbox.enqueue(session, kind=kind, key=key, payload=payload, now=clock())


def test_throttling_never_parks_an_effect_however_often_it_happens(sessions, clock: FakeClock):
    answers = iter([RetryLater("429", retry_after=5)] * 6)
    delivered: list[str] = []

    def slack(effect: outbox.Effect):  # type: ignore[no-untyped-def]
        error = next(answers, None)
        if error is not None:
            raise error
        delivered.append(effect.key)
        return {}

    queue(sessions, clock, [("chat.message", "m1", {"to": "person:erin"})])
    dispatcher = Dispatcher(sessions, {"chat.message": slack}, clock, max_attempts=2)
    for _ in range(7):
        dispatcher.run_once()
        clock.advance(seconds=6)
    with sessions() as session:
        assert outbox.counts_by_status(session) == {"sent": 1}
    assert delivered == ["m1"]


def test_a_short_retry_after_is_waited_out_instead_of_releasing_the_batch(sessions, clock: FakeClock):
    throttled_once: set[str] = set()
    delivered: list[str] = []

    def slack(effect: outbox.Effect):  # type: ignore[no-untyped-def]
        if effect.key == "m1" and effect.key not in throttled_once:
            throttled_once.add(effect.key)
            raise RetryLater("429", retry_after=0.002)
        delivered.append(effect.key)
        return {}

    queue(sessions, clock, [("chat.message", f"m{n}", {"to": f"person:p{n}"}) for n in range(1, 4)])
    report = Dispatcher(sessions, {"chat.message": slack}, clock).run_once()
    assert (report.sent, report.retried) == (2, 1)
    assert delivered == ["m2", "m3"]  # sent in the same pass, not put back and claimed again


def test_parallel_sending_keeps_the_order_within_each_conversation(sessions, clock: FakeClock):
    effects = []
    for n in range(60):
        person = f"person:p{n % 5}"
        effects.append(("chat.message", f"dm{n}", {"to": person, "n": n}))
    effects += [
        ("chat.message", f"edit{n}", {"to": "channel:triage", "replaces": "dm0", "n": 100 + n}) for n in range(5)
    ]
    effects += [("tracker.update", f"t{n}", {"issue": "ISMS-1", "n": 200 + n}) for n in range(5)]
    queue(sessions, clock, effects)
    seen: dict[str, list[int]] = defaultdict(list)
    lock = threading.Lock()
    rng = random.Random(4)

    def send(effect: outbox.Effect):  # type: ignore[no-untyped-def]
        time.sleep(rng.uniform(0, 0.003))
        conversation = effect.payload.get("replaces") or effect.payload.get("to") or effect.kind
        with lock:
            seen[conversation].append(effect.payload["n"])
        return {"ts": effect.key}

    dispatcher = Dispatcher(sessions, {"chat.message": send, "tracker.update": send}, clock, concurrency=4)
    dispatcher.drain(limit=25)

    for person in range(5):
        assert seen[f"person:p{person}"] == list(range(person, 60, 5))
    assert seen["dm0"] == [100, 101, 102, 103, 104]
    assert seen["tracker.update"] == [200, 201, 202, 203, 204]
    with sessions() as session:
        assert outbox.counts_by_status(session) == {"sent": 70}


def test_paced_sending_claims_no_more_than_it_can_send_within_the_lease(sessions, clock: FakeClock):
    queue(sessions, clock, [("chat.message", f"m{n}", {"to": f"person:p{n}"}) for n in range(5)])
    delivered: list[str] = []
    dispatcher = Dispatcher(
        sessions,
        {"chat.message": lambda effect: delivered.append(effect.key) or {}},
        clock,
        rates={"chat": 0.01},
        lease=timedelta(minutes=2),
    )  # one message every 100 s
    assert dispatcher.run_once().sent == 1  # a second one would wait past the 2-minute claim
    with sessions() as session:
        assert outbox.counts_by_status(session) == {"sent": 1, "pending": 4}
    assert delivered == ["m0"]
