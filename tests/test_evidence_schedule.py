"""Recurring activities become evidence requests on time, and climb the reminder ladder: reminders
before the due date, escalation after it, then the management review, never in quiet hours."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from storage.records import verify
from tests.world import EVIDENCE, World, berlin, programme_world
from workflows.evidence.service import items_for_management_review
from workflows.kernel.cadence import make_cadence
from workflows.kernel.timezones import refresh_timezones, remember_timezone

RISK_REVIEW = [{"activity": "RA/risk-review"}]  # quarterly, owner olga (manager mia), clause 27001:8.2


@pytest.fixture
def world(settings, clock, tmp_path) -> Iterator[World]:
    world = programme_world(settings, clock, tmp_path, RISK_REVIEW)
    yield world
    world.runtime.engine.dispose()


def test_a_quarterly_activity_asks_its_owner_when_the_lead_time_begins(world):
    assert world.at(berlin(2026, 12, 17, 16, 59)) == []
    assert world.requests() == []

    sent = world.at(berlin(2026, 12, 17, 17, 0))  # due 31 Dec 17:00, asked 14 days before

    assert sent == [("olga", "Evidence needed: Review the risks you own")]
    request = world.request()
    assert (request.activity_key, request.period, request.owner_id, request.status) == (
        "RA/risk-review",
        "2026-Q4",
        "olga",
        "open",
    )
    assert request.due_at == berlin(2026, 12, 31, 17, 0)
    ask = world.chat.to("olga")[0]
    assert ask.body.splitlines()[0] == (
        "Why: process RA (Information security risk assessment), 27001:8.2. Expected: a short written answer. "
        "The evidence covers 2026-Q4 (2026-10-01 to 2026-12-31)."
    )
    assert dict(ask.fields) == {"Due": "Thu 31 Dec 2026, 17:00 (Europe/Berlin)", "Reference": "EV-1"}
    assert [b.action_id for b in ask.buttons] == [
        "evidence.submit",
        "evidence.not_applicable",
        "evidence.delegate",
        "evidence.snooze.1",
        "evidence.snooze.3",
        "evidence.snooze.7",
    ]
    assert [(a, action, s) for a, action, s, _ in world.records(subjects=EVIDENCE)] == [("system", "asked", "EV-1")]
    assert world.at(berlin(2026, 12, 17, 17, 1)) == []
    assert len(world.requests()) == 1


def test_reminders_escalation_and_the_management_review_follow_the_ladder(world):
    world.at(berlin(2026, 12, 17, 17, 0))
    ladder = [
        (berlin(2026, 12, 24), [("olga", "Reminder: Review the risks you own is due in 7 days")]),
        (berlin(2026, 12, 30), [("olga", "Reminder: Review the risks you own is due in 1 day")]),
        (berlin(2026, 12, 31), [("olga", "Due today: Review the risks you own")]),
        (berlin(2027, 1, 1), [("olga", "Overdue: Review the risks you own was due 1 day ago")]),
        # +3 days is Sunday 3 January: the manager hears on Monday at the end of the quiet hours.
        (
            berlin(2027, 1, 4, 8, 0),
            [("mia", "Olga Ortiz has not answered an evidence request for 4 days past its due date")],
        ),
        (berlin(2027, 1, 7), [("alice", "Escalated: Review the risks you own (Olga Ortiz) is 7 days overdue")]),
    ]
    for moment, expected in ladder:
        assert world.at(moment - timedelta(minutes=1)) == [], moment
        assert world.at(moment) == expected, moment
    assert world.at(berlin(2027, 1, 14)) == []  # listed for the management review, silently
    assert world.at(berlin(2027, 2, 14)) == []  # and nobody is nagged any more

    overdue = world.chat.to("olga")[-1]
    assert "otherwise it goes to your manager, Mia Moreau." in overdue.body
    assert [action for _, action, _, _ in world.records(subjects=EVIDENCE)] == [
        "asked",
        "reminded",
        "reminded",
        "reminded",
        "escalated",
        "escalated",
        "escalated",
        "listed-for-review",
    ]
    listed = world.records("listed-for-review", subjects=EVIDENCE)[0]
    assert listed[3]["owner"] == "olga"
    assert world.request().listed_for_review_at == berlin(2027, 1, 14)
    assert [(item.ref, item.process, item.owner_id) for item in items_for_management_review(world.ctx)] == [
        ("EV-1", "RA", "olga")
    ]
    overview = world.command("alice", "evidence all").reply
    assert overview is not None and "for management review" in overview.body
    with world.ctx.read() as session:
        assert verify(session).ok  # every step went into the hash chain intact


def test_quiet_hours_follow_the_recipients_slack_timezone(world):
    refresh_timezones(world.ctx, {"U0OLGA": "Asia/Tokyo"}.get)  # what users.info would say
    # The window opens at 17:00 in Berlin, 01:00 in Tokyo: the ask waits for 08:00 there.
    assert world.at(berlin(2026, 12, 17, 17, 0)) == []
    assert len(world.requests()) == 1
    tokyo = ZoneInfo("Asia/Tokyo")
    assert world.at(datetime(2026, 12, 18, 7, 59, tzinfo=tokyo)) == []
    assert world.at(datetime(2026, 12, 18, 8, 0, tzinfo=tokyo)) == [
        ("olga", "Evidence needed: Review the risks you own")
    ]
    assert dict(world.chat.to("olga")[0].fields)["Due"] == "Fri 01 Jan 2027, 01:00 (Asia/Tokyo)"
    # 7 days before the due date in Tokyo is Friday 25 December, at 09:00 there.
    assert world.at(datetime(2026, 12, 25, 8, 59, tzinfo=tokyo)) == []
    assert world.at(datetime(2026, 12, 25, 9, 0, tzinfo=tokyo)) == [
        ("olga", "Reminder: Review the risks you own is due in 7 days")
    ]


def test_a_reminder_due_at_the_weekend_waits_for_monday_morning(settings, clock, tmp_path):
    world = programme_world(settings, clock, tmp_path, RISK_REVIEW, remind_before_days=[5])
    world.at(berlin(2026, 12, 17, 17, 0))
    # 5 days before Thursday 31 December is Saturday 26 December.
    assert world.at(berlin(2026, 12, 26, 9, 0)) == []
    assert world.at(berlin(2026, 12, 27, 23, 59)) == []
    assert world.at(berlin(2026, 12, 28, 8, 0)) == [("olga", "Reminder: Review the risks you own is due in 3 days")]
    world.runtime.engine.dispose()


def test_quiet_hours_can_be_switched_off(settings, clock, tmp_path):
    world = programme_world(
        settings, clock, tmp_path, RISK_REVIEW, remind_before_days=[5], quiet_hours={"enabled": False}
    )
    world.at(berlin(2026, 12, 17, 17, 0))
    assert world.at(berlin(2026, 12, 26, 9, 0)) == [("olga", "Reminder: Review the risks you own is due in 5 days")]
    world.runtime.engine.dispose()


def test_cached_timezones_are_refreshed_after_a_day_and_unknown_people_keep_the_fallback(world, clock):
    asked: list[str] = []

    def lookup(user_id: str) -> str | None:
        asked.append(user_id)
        if user_id == "U0SAM":
            raise RuntimeError("Slack is down")
        return "America/New_York"

    assert refresh_timezones(world.ctx, lookup) == 7  # everybody but Sam, who keeps the organisation's zone
    assert refresh_timezones(world.ctx, lookup) == 0  # cached: only Sam is asked again
    clock.advance(days=1, minutes=1)
    assert refresh_timezones(world.ctx, lookup) == 7
    assert asked.count("U0OLGA") == 2 and asked.count("U0SAM") == 3
    remember_timezone(world.ctx, "olga", "Europe/Lisbon", clock())
    world.at(berlin(2026, 12, 17, 17, 0))
    assert dict(world.chat.to("olga")[0].fields)["Due"] == "Thu 31 Dec 2026, 16:00 (Europe/Lisbon)"


def test_a_restart_after_downtime_catches_up_once(world):
    world.at(berlin(2026, 12, 17, 17, 0))
    # Down from 17 December to Tuesday 5 January: three reminders and two rungs fell due meanwhile.
    sent = world.at(berlin(2027, 1, 5, 10, 0))
    assert sent == [("mia", "Olga Ortiz has not answered an evidence request for 5 days past its due date")]
    escalated = world.records("escalated", subjects=EVIDENCE)
    assert len(escalated) == 1 and escalated[0][3]["skipped_steps"] == 4
    assert world.at(berlin(2027, 1, 5, 10, 1)) == []
    assert world.at(berlin(2027, 1, 7)) == [
        ("alice", "Escalated: Review the risks you own (Olga Ortiz) is 7 days overdue")
    ]


def test_periods_missed_while_down_become_one_request_and_a_record(settings, clock, tmp_path):
    world = programme_world(settings, clock, tmp_path, [{"activity": "POL/dispose-old-versions"}])  # monthly, alice
    world.at(berlin(2027, 1, 2))
    sent = world.at(berlin(2027, 4, 7))  # January, February and March fell due while nobody ran

    assert sent == [("alice", "Evidence needed: Dispose of superseded policy versions past their retention period")]
    assert [(r.period, r.due_at) for r in world.requests()] == [("2027-03", berlin(2027, 3, 31, 17, 0))]
    assert "already past its due date" in world.chat.to("alice")[0].body
    missed = world.records("periods-missed", subjects=EVIDENCE)
    assert [(m[2], m[3]["periods"]) for m in missed] == [("POL/dispose-old-versions", ["2027-01", "2027-02"])]
    assert world.at(berlin(2027, 4, 7, 9, 1)) == []
    world.runtime.engine.dispose()


def test_nobody_is_asked_before_the_programme_goes_live(settings, clock, tmp_path):
    world = programme_world(settings, clock, tmp_path, RISK_REVIEW, start="2027-01-01")
    assert world.at(berlin(2026, 12, 20)) == []
    assert world.requests() == []
    assert world.at(berlin(2027, 3, 17, 17, 0)) == [("olga", "Evidence needed: Review the risks you own")]
    assert world.request().period == "2027-Q1"
    world.runtime.engine.dispose()


def test_the_default_programme_asks_for_every_process(settings, clock, tmp_path):
    world = programme_world(settings, clock, tmp_path)
    world.at(berlin(2026, 11, 23))
    world.at(berlin(2027, 1, 10))
    asked = {request.process for request in world.requests()}
    assert asked == set(world.ctx.catalogue.ids)
    assert len(asked) == 17
    world.runtime.engine.dispose()


def test_cadences_fall_due_at_the_end_of_their_period_in_the_organisation_timezone():
    zone, due_time = ZoneInfo("Europe/Berlin"), datetime(2026, 1, 1, 17, 0).time()
    after = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    cases = {
        "yearly": (datetime(2026, 12, 31, 17, 0, tzinfo=zone), "2026", "2026-01-01"),
        "quarterly": (datetime(2026, 12, 31, 17, 0, tzinfo=zone), "2026-Q4", "2026-10-01"),
        "monthly": (datetime(2026, 11, 30, 17, 0, tzinfo=zone), "2026-11", "2026-11-01"),
        "weekly": (datetime(2026, 11, 27, 17, 0, tzinfo=zone), "2026-W48", "2026-11-23"),
        "0 9 1 * *": (datetime(2026, 12, 1, 9, 0, tzinfo=zone), "2026-12-01T09:00", "2026-11-01"),
    }
    for expression, (due, label, start) in cases.items():
        cadence = make_cadence(expression, zone, due_time)
        assert cadence.next_due_after(after) == due, expression
        period = cadence.period(due)
        assert (period.label, period.start.isoformat(), period.end) == (label, start, due.date()), expression
        assert cadence.next_due_after(due) > due
    # Summer time: the last day of March 2027 at 17:00 in Berlin is 15:00 UTC, in December 16:00 UTC.
    quarterly = make_cadence("quarterly", zone, due_time)
    assert quarterly.next_due_after(datetime(2027, 1, 1, tzinfo=UTC)) == datetime(2027, 3, 31, 15, 0, tzinfo=UTC)
