"""Timers and regulatory clocks of incidents, driven by the controlled clock and the scheduler's tick."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from config.settings import PACKAGED_EXAMPLE_ORG, load_settings
from tests.world import World, fresh_key, make_world, report_values
from workflows.common.home import home
from workflows.incidents import flows as incidents
from workflows.incidents.forms import parse_report
from workflows.incidents.service import my_reports, open_incidents
from workflows.kernel.access import Refused


@pytest.fixture
def world(settings, clock) -> Iterator[World]:
    world = make_world(settings, clock)
    yield world
    world.close()


@pytest.fixture
def nis2_world(db_url, clock, tmp_path: Path) -> Iterator[World]:
    org = PACKAGED_EXAMPLE_ORG.read_text(encoding="utf-8").replace("nis2: false", "nis2: true")
    path = tmp_path / "org.yaml"
    path.write_text(org, encoding="utf-8")
    settings = load_settings(ISMS_DATABASE_URL=db_url, ISMS_CONFIG=str(path))
    world = make_world(settings, clock)
    yield world
    world.close()


def report(world: World, person: str = "erin", **values: str) -> str:
    outcome = incidents.report(
        world.ctx, world.actor(person), key=fresh_key(), details=parse_report(world.ctx, report_values(**values))
    )
    assert outcome.reply is not None
    world.deliver()
    match = re.search(r"INC-\d{4}-\d{4}", outcome.reply.text)
    assert match is not None
    return match.group(0)


def triage(
    world: World, ref: str, *, severity: str | None = None, handler: str | None = None, person: str = "sam"
) -> None:
    actor = world.actor(person)
    incidents.classify(world.ctx, actor, key=fresh_key(), ref=ref)
    if severity:
        incidents.set_severity(world.ctx, actor, key=fresh_key(), ref=ref, severity=severity)
    if handler:
        incidents.assign(world.ctx, actor, key=fresh_key(), ref=ref, handler=handler)
    world.deliver()


def test_untriaged_report_escalates_once_when_time_to_triage_passes(world, clock):
    ref = report(world)
    clock.advance(hours=3, minutes=59)
    world.tick()
    assert not any("Escalation" in t for t in world.chat.dm_texts("sam"))
    clock.advance(minutes=2)
    world.tick()
    world.tick()
    for person in ("sam", "alice"):
        escalations = [t for t in world.chat.dm_texts(person) if t.startswith("Escalation")]
        assert escalations == [
            f"Escalation: {ref} was not triaged within 4 h (P3 target).\n"
            "I clicked a link in a mail that asked for my password.\nHandler: nobody yet\n"
            "Incident\nNot an incident\nP1 Critical\nP2 High\nP3 Medium\nP4 Low\nAssign handler\nEscalate\nAdd note"
        ]  # the triage buttons come with the escalation, to act on it at once
    assert any(line.startswith(f"Overdue: {ref} was not triaged") for line in world.chat.thread(ref))
    assert len(world.records("triage-overdue", "INC")) == 1
    assert not any("Escalation" in t for t in world.chat.dm_texts("erin"))


def test_a_severity_triages_the_report_and_sets_the_time_to_resolve(world, clock):
    ref = report(world, personal_data="yes")
    incidents.set_severity(world.ctx, world.actor("hana"), key=fresh_key(), ref=ref, severity="P4")
    world.deliver()
    assert world.incident(ref).status == "incident"
    assert [r[3]["clock"] for r in world.records("clock-started", "INC")] == ["gdpr"]
    assert "Hana Hart classified this as an incident." in world.chat.thread(ref)
    assert any(t.startswith(f"Your report {ref} is being handled") for t in world.chat.dm_texts("erin"))
    clock.advance(days=2)
    world.tick()
    assert world.records("triage-overdue", "INC") == []
    clock.advance(days=29)
    world.tick()
    assert len(world.records("resolve-overdue", "INC")) == 1


def test_triage_in_time_sends_no_reminder(world, clock):
    ref = report(world)
    triage(world, ref, severity="P3", handler="hana")
    clock.advance(hours=8)
    world.tick()
    assert world.records("triage-overdue", "INC") == []
    assert not any("Escalation" in t for t in world.chat.dm_texts("alice"))


def test_time_to_resolve_reminds_the_handler_and_escalates_once(world, clock):
    ref = report(world)
    triage(world, ref, severity="P2", handler="hana")
    clock.advance(days=3, minutes=1)
    world.tick()
    world.tick()
    reminder = f"Reminder: {ref} is not resolved within 3 days (P2 target)."
    assert [t for t in world.chat.dm_texts("hana") if t.startswith("Reminder")] == [
        reminder + "\nI clicked a link in a mail that asked for my password."
    ]
    for person in ("sam", "alice"):
        assert sum(t.startswith(f"Escalation: {ref} is not resolved") for t in world.chat.dm_texts(person)) == 1
    assert len(world.records("resolve-overdue", "INC")) == 1


def test_closing_cancels_the_resolve_timer(world, clock):
    ref = report(world)
    triage(world, ref, severity="P2", handler="hana")
    incidents.close(
        world.ctx, world.actor("hana"), key=fresh_key(), ref=ref, root_cause="Weak filter", lessons="Check the sender"
    )
    clock.advance(days=10)
    world.tick()
    assert world.records("resolve-overdue", "INC") == []


def test_p1_starts_the_emergency_plan_at_once_and_only_once(world, clock):
    ref = report(world)
    for severity in ("P1", "P2", "P1"):
        incidents.set_severity(world.ctx, world.actor("sam"), key=fresh_key(), ref=ref, severity=severity)
    world.deliver()
    for person in ("alice", "sam", "mia"):
        plans = [t for t in world.chat.dm_texts(person) if "emergency communication plan has started" in t]
        assert len(plans) == 1, person
        assert plans[0].startswith(f"P1 incident {ref}: the emergency communication plan has started.")
    assert not any("emergency" in t for t in world.chat.dm_texts("erin"))
    assert world.records("emergency-plan-started", "INC")[0][3] == {"told": ["alice", "sam", "mia"]}
    assert "Emergency communication plan started: told Alice Adams, Sam Shah, Mia Moreau." in world.chat.thread(ref)


def test_p1_time_to_resolve_is_one_day(world, clock):
    ref = report(world)
    incidents.set_severity(world.ctx, world.actor("sam"), key=fresh_key(), ref=ref, severity="P1")
    clock.advance(hours=24, minutes=1)
    world.tick()
    assert any(
        t.startswith(f"Escalation: {ref} is not resolved within 24 h (P1 target).")
        for t in world.chat.dm_texts("alice")
    )


def test_gdpr_clock_reminds_the_dpo_before_the_deadline_until_notified(world, clock):
    ref = report(world, personal_data="yes")
    assert world.records("clock-started", "INC") == []  # starts only at classification
    clock.advance(hours=1)
    triage(world, ref, severity="P3", handler="hana")
    started = world.records("clock-started", "INC")
    assert [(r[3]["clock"], r[3]["due_at"]) for r in started] == [("gdpr", "2026-11-26T10:00:00+00:00")]
    dora = world.chat.dm_texts("dora")
    assert len(dora) == 1 and dora[0].startswith(
        f"GDPR notification to the supervisory authority clock started for {ref}: "
        "due Thu 26 Nov 2026, 11:00 (Europe/Berlin)."
    )
    assert "Record notification" in dora[0]

    clock.advance(hours=47, minutes=59)
    world.tick()
    assert len(world.chat.dm_texts("dora")) == 1
    clock.advance(minutes=2)
    world.tick()
    world.tick()
    reminders = [t for t in world.chat.dm_texts("dora") if t.startswith("Reminder")]
    assert reminders == [
        f"Reminder: GDPR notification to the supervisory authority for {ref} is due "
        "Thu 26 Nov 2026, 11:00 (Europe/Berlin) (in 23 h).\nI clicked a link in a mail that asked for my "
        "password.\nRecord notification"
    ]

    clock.advance(hours=18)  # 6 h before the deadline
    world.tick()
    assert sum(t.startswith("Reminder") for t in world.chat.dm_texts("dora")) == 2

    outcome = incidents.record_notification(
        world.ctx,
        world.actor("dora"),
        key=fresh_key(),
        ref=ref,
        clock="gdpr",
        at=clock(),
        note="Case 2026-77 at the authority",
    )
    world.deliver()
    assert outcome.reply is not None and outcome.reply.text.startswith("Recorded: GDPR notification")
    notified = world.records("notified", "INC")
    assert [(r[0], r[3]["clock"], r[3]["at"], r[3]["note"]) for r in notified] == [
        ("dora", "gdpr", clock().isoformat(), "Case 2026-77 at the authority")
    ]
    clock.advance(days=5)
    world.tick()
    assert sum(t.startswith("Reminder") for t in world.chat.dm_texts("dora")) == 2
    assert world.records("deadline-missed", "INC") == []
    assert any("Dora Diaz recorded the GDPR notification" in line for line in world.chat.thread(ref))


def test_missed_gdpr_deadline_is_told_to_dpo_and_isms_manager_once(world, clock):
    ref = report(world, personal_data="not_sure")
    triage(world, ref, severity="P3")
    clock.advance(hours=73)
    world.tick()
    world.tick()
    dora = world.chat.dm_texts("dora")
    assert sum(t.startswith("Reminder") for t in dora) == 0  # reminders overtaken by the deadline stay silent
    missed = f"Deadline passed: GDPR notification to the supervisory authority for {ref}"
    assert sum(t.startswith(missed) for t in dora) == 1
    assert sum(t.startswith(missed) for t in world.chat.dm_texts("alice")) == 1
    assert len(world.records("deadline-missed", "INC")) == 1
    assert (
        "GDPR notification to the supervisory authority: OVERDUE since Thu 26 Nov 2026, 10:00 (Europe/Berlin)"
        in world.chat.triage_posts(ref)[-1].text
    )


def test_no_clock_without_personal_data_and_stopped_when_not_an_incident(world, clock):
    plain = report(world, personal_data="no")
    triage(world, plain, severity="P3")
    assert world.records("clock-started", "INC") == []
    ref = report(world, personal_data="yes")
    triage(world, ref)
    incidents.not_incident(
        world.ctx, world.actor("sam"), key=fresh_key(), ref=ref, reason="A marketing mail from our own newsletter tool."
    )
    world.deliver()
    clock.advance(hours=80)
    world.tick()
    assert not any(t.startswith(("Reminder", "Deadline")) for t in world.chat.dm_texts("dora"))
    assert world.chat.dm_texts("erin")[-1] == (
        f"Your report {ref} was reviewed: it is not a security incident.\n"
        "Reason: A marketing mail from our own newsletter tool.\n"
        "Thank you for reporting it. Please keep reporting anything that looks wrong."
    )


def test_nis2_clocks_and_the_final_report_a_month_after_the_notification(nis2_world, clock):
    world = nis2_world
    ref = report(world, personal_data="no")
    triage(world, ref, severity="P4")
    assert world.records("clock-started", "INC") == []  # P4 is not significant under NIS2
    incidents.set_severity(world.ctx, world.actor("sam"), key=fresh_key(), ref=ref, severity="P2")
    world.deliver()
    clocks = {r[3]["clock"]: r[3]["due_at"] for r in world.records("clock-started", "INC")}
    assert clocks == {
        "nis2-early-warning": "2026-11-24T09:00:00+00:00",
        "nis2-notification": "2026-11-26T09:00:00+00:00",
        "nis2-final-report": "2026-12-26T09:00:00+00:00",
    }
    clock.advance(hours=23, minutes=1)  # 1 h before the early warning is due
    world.tick()
    assert [t.split("\n")[0] for t in world.chat.dm_texts("dora") if t.startswith("Reminder")] == [
        f"Reminder: NIS2 early warning for {ref} is due Tue 24 Nov 2026, 10:00 (Europe/Berlin) (in 59 min)."
    ]
    for kind in ("nis2-early-warning", "nis2-notification"):
        incidents.record_notification(world.ctx, world.actor("dora"), key=fresh_key(), ref=ref, clock=kind, at=clock())
    world.deliver()
    triage_post = world.chat.triage_posts(ref)[-1].text
    assert "NIS2 final report: due Thu 24 Dec 2026, 09:01 (Europe/Berlin)" in triage_post
    clock.advance(days=29, minutes=1)
    world.tick()
    assert [t.split("\n")[0] for t in world.chat.dm_texts("dora") if "NIS2 final report for" in t] == [
        f"Reminder: NIS2 final report for {ref} is due Thu 24 Dec 2026, 09:01 (Europe/Berlin) (in 23 h)."
    ]


def test_team_list_shows_running_clocks_first_and_reporters_see_only_their_own(world, clock):
    quiet = report(world, person="olga", what="Laptop left on the train")
    ref = report(world, personal_data="yes")
    triage(world, ref, severity="P2", handler="hana")
    incidents.add_note(world.ctx, world.actor("hana"), key=fresh_key(), ref=ref, note="Secret internal note")
    clock.advance(hours=2)
    team = open_incidents(world.ctx, world.actor("aldo")).reply
    assert team is not None and team.text == "2 open incidents, 1 running regulatory clock"
    lines = team.body.splitlines()
    assert lines[0] == "Running regulatory clocks:"
    assert lines[1] == (
        f"• {ref}: GDPR notification to the supervisory authority due Thu 26 Nov 2026, 10:00 (Europe/Berlin) (in 70 h)"
    )
    assert lines[3] == "Open incidents:"
    # an incident with a running clock comes first, then by severity, then oldest first
    assert lines[4].startswith(f"• {ref} [P2] Incident, being handled · handler Hana Hart · reported 2 h ago")
    assert lines[5].startswith(f"• {quiet} [no severity] Reported, waiting for triage · handler nobody yet")

    mine = my_reports(world.ctx, world.actor("erin")).reply
    assert mine is not None and mine.text == "Your incident reports (1)"
    assert ref in mine.body and quiet not in mine.body and "Secret" not in mine.body

    with pytest.raises(Refused) as refusal:
        open_incidents(world.ctx, world.actor("erin"))
    assert str(refusal.value) == (  # only asked to list: no warning, nothing recorded
        "Sorry, the list of incidents is for auditor, DPO, ISMS manager, security lead or security team only. "
        "/incident mine lists your own reports."
    )
    assert world.records("access-denied", "INC") == []


def test_reference_numbers_restart_each_year(world, clock):
    assert report(world) == "INC-2026-0001"
    clock.set(datetime(2026, 12, 31, 22, 30, tzinfo=UTC))  # 23:30 in Berlin: still 2026
    assert report(world) == "INC-2026-0002"
    clock.advance(hours=1)  # 00:30 in Berlin
    assert report(world) == "INC-2027-0001"


def test_app_home_shows_what_waits_in_incident_management(world, clock):
    ref = report(world, personal_data="yes")
    # the security team's Home starts with the ISMS overview; what waits for them personally follows it
    sam = [s.text for s in home(world.ctx, world.actor("sam")).sections]
    assert sam[1].startswith("ISMS status of Example Ltd") and sam[-1] == f"1 incident report waits for triage: {ref}"
    triage(world, ref, severity="P2", handler="hana")
    hana = [s.text for s in home(world.ctx, world.actor("hana")).sections]
    assert hana[-1] == f"You handle 1 open incident: {ref}"
    assert [s.text for s in home(world.ctx, world.actor("dora")).sections][1:] == [
        "1 regulatory notification clock is running: /isms incidents"
    ]
    assert [s.text for s in home(world.ctx, world.actor("erin")).sections][1:] == [
        f"You have 1 open incident report: {ref}"
    ]
