"""What requests leave behind is bounded: repeated refusals are counted, not recorded again, and the
Slack retry keys are pruned once no retry can arrive."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.runtime import build_runtime
from bot.scheduler import BotScheduler
from storage.deliveries import KEEP, first_time, prune
from storage.models import Delivery, Record, Refusal
from storage.refusals import ANY_SUBJECT, MAX_SUBJECTS, first_refusal
from tests.slack_client import SlackUser


def test_repeated_refusals_are_recorded_once_and_counted(bot, slack):
    erin = SlackUser(bot.url, slack, "U0ERIN")
    for _ in range(5):
        _, reply = erin.command("/isms", "outbox")
        assert "for ISMS manager only" in erin.reply_text(reply)
    with bot.runtime.ctx.sessions() as session:
        denied = session.scalars(select(Record).where(Record.action == "access-denied")).all()
        counted = session.scalars(select(Refusal)).all()
    assert [(r.actor, r.subject_type) for r in denied] == [("erin", "action")]
    assert [(r.actor, r.attempted, r.count) for r in counted] == [("erin", "the delivery report", 5)]


def test_a_person_varying_the_subject_still_adds_a_bounded_number_of_records(sessions, clock):
    with sessions.begin() as session:
        firsts = [
            first_refusal(session, "erin", "CHG", "deciding on changes", ("change", f"CHG-2026-{n:04d}"), clock())
            for n in range(MAX_SUBJECTS + 10)
        ]
        again = first_refusal(session, "erin", "CHG", "deciding on changes", ("change", "CHG-2026-0000"), clock())
        other = first_refusal(session, "olga", "CHG", "deciding on changes", ("change", "CHG-2026-0000"), clock())
    assert firsts.count(True) == MAX_SUBJECTS + 1 and not again and other
    with sessions() as session:
        overflow = session.get(Refusal, ("erin", "CHG", "deciding on changes", *ANY_SUBJECT))
        rows = session.scalar(select(func.count()).select_from(Refusal))
    assert overflow is not None and overflow.count == 10  # subjects 21 to 30, the 21st also recorded
    assert rows == MAX_SUBJECTS + 2


def test_delivery_keys_are_pruned_after_the_retry_window(sessions, clock):
    with sessions.begin() as session:
        assert first_time(session, "event:old", clock())
    clock.advance(seconds=KEEP.total_seconds() - 60)
    with sessions.begin() as session:
        assert first_time(session, "event:recent", clock())
        assert prune(session, clock()) == 0
    clock.advance(minutes=2)
    with sessions.begin() as session:
        assert prune(session, clock()) == 1
        assert not first_time(session, "event:recent", clock())  # still within its window
    with sessions() as session:
        assert session.scalars(select(Delivery.key)).all() == ["event:recent"]


def test_the_scheduler_tick_prunes_delivery_keys(settings, clock):
    runtime = build_runtime(settings, lambda ctx: lambda effect: {}, clock=clock)
    scheduler = BotScheduler(runtime.ctx, runtime.engine)
    try:
        with runtime.ctx.sessions.begin() as session:
            first_time(session, "command:1.2.abc", clock())
        clock.advance(seconds=KEEP.total_seconds() + 60)
        assert scheduler.tick()
        with runtime.ctx.sessions() as session:
            assert session.scalar(select(func.count()).select_from(Delivery)) == 0
    finally:
        scheduler.stop()
        runtime.engine.dispose()
