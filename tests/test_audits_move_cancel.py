"""Moving and cancelling an internal audit (AUD), through the router both surfaces share, with the
controlled clock: a planned audit's dates shift together and its reminders follow; a cancelled audit
reminds nobody and its auditees' open evidence requests are withdrawn; what may not be done is
refused with a reason. With Microsoft 365 the same Outlook events are moved or cancelled."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from config.settings import Settings
from storage.models import Audit
from tests.doubles.graph_api import GraphDouble
from tests.support import FakeClock
from tests.test_audits_calendar import PLAN as CALENDAR_PLAN
from tests.test_audits_calendar import by_subject, graph, m365_world  # noqa: F401  (graph: the fixture)
from tests.test_audits_flow import plan, start_audit
from tests.world import World, berlin, make_world
from workflows.evidence.service import on_time_by_owner

REF = "AUD-2026-0001"


@pytest.fixture
def world(settings, clock: FakeClock) -> Iterator[World]:
    w = make_world(settings, clock)
    yield w
    w.close()


def audit(world: World) -> Audit:
    with world.ctx.read() as session:
        found = session.scalar(select(Audit).where(Audit.ref == REF))
        assert found is not None
        session.expunge(found)
        return found


def said(world: World, person: str, text: str) -> str:
    outcome = world.command(person, text)
    world.deliver()
    assert outcome.reply is not None
    return outcome.reply.text + ("\n" + outcome.reply.body if outcome.reply.body else "")


def test_a_planned_audit_moves_with_its_dates_and_its_reminders_follow(world: World) -> None:
    plan(world)  # kick-off Mon 7 Dec, evidence Fri 11 Dec, report Fri 18 Dec
    world.chat.clear()

    reply = said(world, "alice", f"audit move {REF} 2026-12-14")

    assert reply.startswith(f"{REF} is moved: the kick-off is now 2026-12-14")
    moved = audit(world)
    assert (moved.kickoff, moved.evidence_due, moved.report_due) == (
        date(2026, 12, 14),
        date(2026, 12, 18),
        date(2026, 12, 25),
    )
    told = {(to, text) for to, text in world.chat.to_people()}
    for person in ("aldo", "alice", "sam"):
        assert (person, f"Internal audit {REF} is moved: it starts Mon 14 Dec 2026 instead of Mon 07 Dec 2026") in told
    (record,) = world.records("audit-moved", "AUD")
    assert record[3]["kickoff"] == {"from": "2026-12-07", "to": "2026-12-14"}
    assert record[3]["report_due"] == {"from": "2026-12-18", "to": "2026-12-25"}
    world.chat.clear()
    assert world.at(berlin(2026, 11, 30, 9, 0)) == []  # the old week-before reminder is gone
    week_before = world.at(berlin(2026, 12, 7, 9, 0))
    assert sorted(week_before) == [
        ("aldo", f"Reminder: internal audit {REF} starts in 7 days."),
        ("alice", f"Reminder: internal audit {REF} starts in 7 days."),
        ("sam", f"Reminder: internal audit {REF} starts in 7 days."),
    ]
    assert ("sam", f"Internal audit {REF} starts today: ISMS operations 2026") in world.at(berlin(2026, 12, 14, 9, 0))


@pytest.mark.parametrize(
    ("who", "text", "answer"),
    [
        ("erin", f"audit move {REF} 2026-12-14", "Sorry, moving AUD-2026-0001 is for ISMS manager only."),
        ("alice", f"audit move {REF} soon", "Use /isms audit move AUD-2026-0001 YYYY-MM-DD"),
        ("alice", f"audit move {REF} 2026-11-01", "2026-11-01 has passed: pick a kick-off from today on."),
        ("alice", f"audit move {REF} 2026-12-07", f"{REF} already starts on 2026-12-07."),
        ("alice", "audit move AUD-2026-0099 2026-12-14", "There is no audit AUD-2026-0099."),
        ("alice", f"audit cancel {REF}", "Use /isms audit cancel AUD-2026-0001 <why it is cancelled>."),
        ("sam", f"audit cancel {REF} not needed", "Sorry, cancelling AUD-2026-0001 is for ISMS manager only."),
    ],
)
def test_a_move_or_cancel_that_cannot_be_done_is_refused_and_changes_nothing(
    world: World, who: str, text: str, answer: str
) -> None:
    plan(world)
    world.chat.clear()

    assert answer in said(world, who, text)

    kept = audit(world)
    assert (kept.state, kept.kickoff) == ("planned", date(2026, 12, 7))
    assert world.records("audit-moved") == [] and world.records("audit-cancelled") == []


def test_a_cancelled_planned_audit_tells_the_team_and_reminds_nobody(world: World) -> None:
    plan(world)
    world.chat.clear()

    reply = said(world, "alice", f"audit cancel {REF} The auditor is on leave until January")

    assert reply == f"{REF} is cancelled; the auditors and auditees are told."
    assert audit(world).state == "cancelled"
    texts = {to: text for to, text in world.chat.to_people()}
    assert texts["aldo"] == f"Internal audit {REF} is cancelled: ISMS operations 2026"
    assert "Reason: The auditor is on leave until January" in world.chat.to("sam")[-1].body
    (record,) = world.records("audit-cancelled", "AUD")
    assert record[3]["reason"] == "The auditor is on leave until January" and record[3]["from"] == "planned"
    world.chat.clear()
    assert world.at(berlin(2026, 11, 30, 9, 0)) == []
    assert not any(REF in text for _, text in world.at(berlin(2026, 12, 7, 9, 0)))  # and it never starts
    assert audit(world).started_at is None
    programme = world.command("alice", "audits").reply
    assert programme is not None and ("Cancelled", "1") in programme.fields
    assert "is cancelled: only a planned audit can be moved" in said(world, "alice", f"audit move {REF} 2026-12-21")
    assert "is already cancelled: it can no longer be cancelled" in said(world, "alice", f"audit cancel {REF} again")


def test_cancelling_a_running_audit_withdraws_the_open_evidence_requests(world: World) -> None:
    start_audit(world)  # the kick-off asked alice and sam for evidence
    assert {r.owner_id: r.status for r in world.requests()} == {"alice": "open", "sam": "open"}
    assert "is in progress: only a planned audit can be moved" in said(world, "alice", f"audit move {REF} 2026-12-21")
    world.chat.clear()

    reply = said(world, "alice", f"audit cancel {REF} Scope replaced by the external audit")

    assert reply == (
        f"{REF} is cancelled; the auditors and auditees are told. Withdrawn: 2 open evidence requests for it."
    )
    assert {r.owner_id: r.status for r in world.requests()} == {"alice": "not_applicable", "sam": "not_applicable"}
    assert any(
        to == "sam" and text.startswith("Evidence request EV-") and "is withdrawn" in text
        for to, text in world.chat.to_people()
    )
    assert [r[3]["reason"] for r in world.records("withdrawn", "EV")] == [
        f"Internal audit {REF} is cancelled: Scope replaced by the external audit"
    ] * 2
    world.chat.clear()
    later = world.at(berlin(2026, 12, 11, 9, 0)) + world.at(berlin(2026, 12, 15, 9, 0))
    assert not any(REF in text or "Evidence" in text for _, text in later)  # no reminder, no escalation
    with world.ctx.read() as session:  # past their due date, the withdrawn requests count as nobody's lateness
        rates = on_time_by_owner(session, world.clock(), berlin(2026, 12, 1, 0, 0), berlin(2027, 1, 1, 0, 0))
    assert {owner: counted for (process, owner), counted in rates.items() if process == "AUD"} == {
        "alice": (0, 0),
        "sam": (0, 0),
    }
    assert "was cancelled" in said(world, "aldo", f"audit report {REF}")


def test_with_microsoft_365_the_same_outlook_events_move_and_are_cancelled(
    settings: Settings,
    clock: FakeClock,
    graph: GraphDouble,  # noqa: F811  (the fixture imported above)
    tmp_path: Path,
) -> None:
    world = m365_world(settings, clock, graph, tmp_path)
    try:
        assert world.command("alice", "audit new").form is not None
        world.fill("alice", "audit.plan", CALENDAR_PLAN, "", key="plan-1")
        world.deliver()

        moved = world.command("alice", f"audit move {REF} 2026-12-14")
        world.deliver()

        assert moved.reply is not None and moved.reply.body.endswith(
            "In their Outlook calendars the kick-off and the report due date are moved."
        )
        events = by_subject(graph)
        assert len(events) == 2  # moved in place, nothing created twice
        kickoff = events[f"Kick-off of internal audit {REF}: ISMS operations 2026"]
        assert kickoff["start"] == {"dateTime": "2026-12-14T09:00:00", "timeZone": "UTC"}
        assert events[f"Report due: internal audit {REF}"]["end"] == {
            "dateTime": "2026-12-25T16:00:00",
            "timeZone": "UTC",
        }

        cancelled = world.command("alice", f"audit cancel {REF} Replaced by the external audit")
        world.deliver()

        assert cancelled.reply is not None and cancelled.reply.text.endswith(
            "In their Outlook calendars the kick-off and the report due date are cancelled."
        )
        events = by_subject(graph)
        assert {subject: event["isCancelled"] for subject, event in events.items()} == {
            f"Kick-off of internal audit {REF}: ISMS operations 2026": True,
            f"Report due: internal audit {REF}": True,
        }
        assert {event["cancellationComment"] for event in events.values()} == {"Replaced by the external audit"}
    finally:
        world.runtime.engine.dispose()
