"""Regulatory decisions: the team sets "personal data may be affected", the DPO records what was
decided on each deadline, NIS2's three stages, the close confirmation, the P1 alert's plan link and
Acknowledge button, and ``/isms incidents`` ordering; as the people involved read it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from config.settings import PACKAGED_EXAMPLE_ORG, load_settings
from tests.test_incidents_clocks import report, triage
from tests.world import World, fresh_key, make_world
from workflows.incidents import flows as incidents
from workflows.incidents.forms import CLOSE, NOTIFIED, PERSONAL_DATA
from workflows.incidents.messages import ACKNOWLEDGE


@pytest.fixture
def world(settings, clock) -> Iterator[World]:
    world = make_world(settings, clock)
    yield world
    world.close()


@pytest.fixture
def nis2_world(db_url, clock, tmp_path: Path) -> Iterator[World]:
    path = tmp_path / "org.yaml"
    path.write_text(PACKAGED_EXAMPLE_ORG.read_text(encoding="utf-8").replace("nis2: false", "nis2: true"))
    world = make_world(load_settings(ISMS_DATABASE_URL=db_url, ISMS_CONFIG=str(path)), clock)
    yield world
    world.close()


def said(outcome) -> str:  # type: ignore[no-untyped-def]
    assert outcome.reply is not None
    return outcome.reply.text


def gdpr_clock(world, ref):  # type: ignore[no-untyped-def]
    return [r[3] for r in world.records("clock-started", "INC") if r[2] == ref and r[3]["clock"] == "gdpr"]


def test_the_team_corrects_personal_data_and_the_gdpr_clock_counts_from_awareness(world, clock):
    ref = report(world, personal_data="no")
    triage(world, ref, severity="P3", handler="hana")
    classified = clock()
    clock.advance(hours=10)
    assert world.fill("hana", PERSONAL_DATA, {"personal_data": "yes"}, ref).reply is None
    started = gdpr_clock(world, ref)
    assert started == [
        {
            "clock": "gdpr",
            "started_at": classified.isoformat(),
            "due_at": (classified + timedelta(hours=72)).isoformat(),
        }
    ]
    assert "Hana Hart set personal data may be affected: Yes." in world.chat.thread(ref)
    assert world.records("personal-data-set", "INC")[0][3] == {"from": "no", "to": "yes"}
    # corrected back: the clock stops, and the DPO's reminders with it
    world.fill("sam", PERSONAL_DATA, {"personal_data": "no"}, ref)
    assert "GDPR notification to the supervisory authority clock stopped: no personal data affected." in (
        world.chat.thread(ref)
    )
    assert world.at(classified + timedelta(hours=73)) == []


def test_only_the_security_team_sets_personal_data(world):
    ref = report(world, personal_data="no")
    reply = said(world.press("erin", PERSONAL_DATA, ref))
    assert reply.startswith("Sorry, working on incidents is for")
    assert said(world.fill("sam", PERSONAL_DATA, {"personal_data": "no"}, ref)) == (
        f"{ref} already says: personal data may be affected: No."
    )


def test_the_dpo_records_the_authority_notified_with_its_reference(world, clock):
    ref = report(world, personal_data="yes")
    triage(world, ref, severity="P2", handler="hana")
    values = {"clock": "gdpr", "decision": "authority", "at": "", "note": "Case 2026-114"}
    assert said(world.fill("dora", NOTIFIED, values, ref)) == (
        f"Recorded: GDPR notification to the supervisory authority for {ref}, the authority notified on "
        "Mon 23 Nov 2026, 10:00 (Europe/Berlin). Reminders stop."
    )
    assert world.records("notified", "INC")[0][3]["decision"] == "authority"
    assert any("(reference: Case 2026-114)" in line for line in world.chat.thread(ref))
    assert not [t for _, t in world.at(clock() + timedelta(hours=73)) if "GDPR" in t]


def test_the_dpo_records_the_people_notified(world, clock):
    ref = report(world, personal_data="not_sure")
    triage(world, ref, severity="P3", handler="hana")
    values = {"clock": "gdpr", "decision": "people", "at": "", "note": ""}
    assert "the people affected notified" in said(world.fill("dora", NOTIFIED, values, ref))
    post = world.chat.triage_posts(ref)[-1].text
    assert "(the people affected)" in post
    assert not [t for _, t in world.at(clock() + timedelta(hours=73)) if "GDPR" in t]


def test_not_notifiable_needs_a_reason_and_stops_the_reminders(world, clock):
    ref = report(world, personal_data="yes")
    triage(world, ref, severity="P3", handler="hana")
    outcome = world.fill("dora", NOTIFIED, {"clock": "gdpr", "decision": "not_notifiable", "note": " "}, ref)
    assert outcome.errors == {"note": "Please give the reason it is not notifiable."}
    values = {"clock": "gdpr", "decision": "not_notifiable", "note": "Encrypted laptop, key not lost"}
    assert "assessed as not notifiable. Reminders stop." in said(world.fill("dora", NOTIFIED, values, ref))
    assert world.records("not-notifiable", "INC")[0][3]["note"] == "Encrypted laptop, key not lost"
    assert "assessed as not notifiable by Dora Diaz" in world.chat.triage_posts(ref)[-1].text
    assert not [t for _, t in world.at(clock() + timedelta(hours=73)) if "GDPR" in t]


def test_nis2_stages_are_three_deadlines_each_recorded(nis2_world, clock):
    world = nis2_world
    ref = report(world, personal_data="no")
    triage(world, ref, severity="P2", handler="hana")
    start = clock()
    for kind in ("nis2-early-warning", "nis2-notification"):
        clock.advance(hours=1)
        world.fill("dora", NOTIFIED, {"clock": kind, "decision": "authority", "note": f"{kind} sent"}, ref)
    notified = [r[3]["clock"] for r in world.records("notified", "INC")]
    assert notified == ["nis2-early-warning", "nis2-notification"]
    # the final report is still due, a month after the notification, and reminded
    reminders = [t for _, t in world.at(start + timedelta(days=31)) if "NIS2 final report" in t]
    assert reminders and all("early warning" not in t for t in reminders)
    world.fill("dora", NOTIFIED, {"clock": "nis2-final-report", "decision": "authority", "note": "final"}, ref)
    assert [r[3]["clock"] for r in world.records("notified", "INC")][-1] == "nis2-final-report"


def test_closing_with_a_running_clock_or_no_handler_asks_for_confirmation(world):
    ref = report(world, personal_data="yes")
    triage(world, ref, severity="P1")
    opened = world.press("sam", CLOSE, ref).form
    assert opened is not None and opened.fields[-1].name == "override"
    assert "GDPR notification to the supervisory authority clock is still running." in opened.fields[-1].hint
    assert "This P1 incident has no handler." in opened.fields[-1].hint
    values = {"root_cause": "Phish", "lessons": "Train", "override": ""}
    assert world.fill("sam", CLOSE, values, ref).errors == {
        "override": "Please confirm, or cancel and resolve this first."
    }
    refused = said(incidents_close(world, ref, override=False))
    assert refused.startswith(f"{ref} was not closed: The GDPR") and "Press Close again and confirm" in refused
    assert world.incident(ref).status == "incident"
    world.fill("sam", CLOSE, {**values, "override": "yes"}, ref)
    assert world.incident(ref).status == "closed"
    overridden = world.records("close-overridden", "INC")
    assert len(overridden) == 1 and "This P1 incident has no handler." in overridden[0][3]["warnings"]
    assert any(line.startswith("Sam Shah closed it anyway:") for line in world.chat.thread(ref))


def incidents_close(world, ref, *, override):  # type: ignore[no-untyped-def]
    from workflows.kernel.routing import Request

    request = Request(world.actor("sam"), fresh_key(), values={"root_cause": "r", "lessons": "l"}, metadata=ref)
    if override:
        request.values["override"] = "yes"
    return world.runtime.router.submit_form(world.ctx, CLOSE, request)


def test_closing_a_handled_incident_without_clocks_asks_nothing(world):
    ref = report(world, personal_data="no")
    triage(world, ref, severity="P2", handler="hana")
    opened = world.press("hana", CLOSE, ref).form
    assert opened is not None and [f.name for f in opened.fields] == ["root_cause", "lessons"]
    incidents.close(world.ctx, world.actor("hana"), key=fresh_key(), ref=ref, root_cause="r", lessons="l")
    assert world.records("close-overridden", "INC") == []


def test_the_p1_alert_links_the_plan_and_is_acknowledged_once(world):
    ref = report(world, personal_data="no")
    triage(world, ref, severity="P1")
    world.deliver()
    alert = next(m for m in world.chat.to("mia") if m.text.startswith(f"P1 incident {ref}"))
    assert ("Emergency plan", "https://intranet.example.org/security/emergency-plan") in alert.fields
    assert [(b.action_id, b.label) for b in alert.buttons] == [(ACKNOWLEDGE, "Acknowledge")]
    assert said(world.press("mia", ACKNOWLEDGE, ref)) == (
        f"Thank you: your acknowledgement of the P1 alert for {ref} is recorded."
    )
    assert said(world.press("mia", ACKNOWLEDGE, ref)) == f"You already acknowledged the P1 alert for {ref}."
    assert "Mia Moreau acknowledged the P1 alert." in world.chat.thread(ref)
    assert [r[0] for r in world.records("emergency-acknowledged", "INC")] == ["mia"]
    assert said(world.press("erin", ACKNOWLEDGE, ref)).startswith("Sorry, acknowledging emergency alerts is for")


def test_isms_incidents_lists_incidents_with_running_clocks_first_then_severity_then_age(world, clock):
    old_low = report(world, personal_data="no")
    triage(world, old_low, severity="P4")
    clock.advance(hours=1)
    high = report(world, personal_data="no")
    triage(world, high, severity="P2")
    clock.advance(hours=1)
    with_clock = report(world, personal_data="yes")
    triage(world, with_clock, severity="P4")
    reply = world.command("sam", "incidents").reply
    text = reply.body if reply else ""
    lines = [line for line in reply.body.splitlines() if line.startswith("• INC")] if reply else []
    order = [line.split()[1] for line in lines if "[" in line]
    assert order == [with_clock, high, old_low], text
