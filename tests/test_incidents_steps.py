"""Triage steps through the one step runner: the transition table, the refusals (one type, today's
wording), a repeated request acting once, and every button the process posts having a route."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.world import World, fresh_key, make_world, report_values
from workflows.incidents import flows as incidents
from workflows.incidents.forms import parse_report
from workflows.incidents.lifecycle import LIFECYCLE, IncidentStatus
from workflows.kernel.access import Refused

NEW, INCIDENT, NOT_INCIDENT, CLOSED, WITHDRAWN = (
    IncidentStatus.NEW,
    IncidentStatus.INCIDENT,
    IncidentStatus.NOT_INCIDENT,
    IncidentStatus.CLOSED,
    IncidentStatus.WITHDRAWN,
)


@pytest.fixture
def world(settings, clock) -> Iterator[World]:
    world = make_world(settings, clock)
    yield world
    world.close()


def report(world: World, **values: str) -> str:
    details = parse_report(world.ctx, report_values(**values))
    outcome = incidents.report(world.ctx, world.actor("erin"), key=fresh_key(), details=details)
    assert outcome.reply is not None
    match = re.search(r"INC-\d{4}-\d{4}", outcome.reply.text)
    assert match is not None
    return match.group(0)


def refused(call, *args, **kwargs) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(Refused) as refusal:
        call(*args, **kwargs)
    return str(refusal.value)


def test_the_transition_table():
    allowed = {(s, t) for s in IncidentStatus for t in IncidentStatus if LIFECYCLE.allows(s, t)}
    assert allowed == {(NEW, INCIDENT), (NEW, NOT_INCIDENT), (INCIDENT, NOT_INCIDENT), (INCIDENT, CLOSED),
                       (NOT_INCIDENT, INCIDENT), (NEW, WITHDRAWN)}  # fmt: skip


def test_what_cannot_be_done_twice_is_refused_with_a_reason_and_changes_nothing(world):
    ctx, sam = world.ctx, world.actor("sam")
    ref = report(world)
    incidents.classify(ctx, sam, key=fresh_key(), ref=ref)
    incidents.set_severity(ctx, sam, key=fresh_key(), ref=ref, severity="P2")
    incidents.assign(ctx, sam, key=fresh_key(), ref=ref, handler="hana")
    incidents.escalate(ctx, sam, key=fresh_key(), ref=ref)
    before = len(world.records(process="INC"))

    assert refused(incidents.classify, ctx, sam, key=fresh_key(), ref=ref) == (
        f"{ref} was already classified as an incident by Sam Shah."
    )
    assert refused(incidents.set_severity, ctx, sam, key=fresh_key(), ref=ref, severity="P2") == (
        f"{ref} already has severity P2."
    )
    assert refused(incidents.assign, ctx, sam, key=fresh_key(), ref=ref, handler="hana") == (
        f"Hana Hart already handles {ref}."
    )
    assert refused(incidents.assign, ctx, sam, key=fresh_key(), ref=ref, handler="erin") == (
        "Please choose a member of the security team as handler."
    )
    assert refused(incidents.escalate, ctx, sam, key=fresh_key(), ref=ref) == (
        f"{ref} was already escalated by Sam Shah on Mon 23 Nov 2026, 10:00 (Europe/Berlin)."
    )
    assert refused(incidents.record_notification, ctx, sam, key=fresh_key(), ref=ref, clock="gdpr", at=ctx.clock()) == (
        f"No GDPR notification to the supervisory authority clock is running for {ref}."
    )
    assert refused(incidents.classify, ctx, sam, key=fresh_key(), ref="INC-2026-0099") == (
        "There is no incident INC-2026-0099."
    )
    assert len(world.records(process="INC")) == before


def test_a_closed_incident_allows_only_notes(world):
    ctx, hana = world.ctx, world.actor("hana")
    ref = report(world)
    assert refused(incidents.close, ctx, hana, key=fresh_key(), ref=ref, root_cause="r", lessons="l") == (
        f"Only an incident can be closed; {ref} is new."
    )
    incidents.classify(ctx, hana, key=fresh_key(), ref=ref)
    incidents.close(ctx, hana, key=fresh_key(), ref=ref, root_cause="Weak filter", lessons="Check the sender")
    assert world.incident(ref).status == CLOSED

    no_longer = f"{ref} is closed; this is no longer possible."
    assert refused(incidents.classify, ctx, hana, key=fresh_key(), ref=ref) == no_longer
    assert refused(incidents.not_incident, ctx, hana, key=fresh_key(), ref=ref, reason="x") == no_longer
    assert refused(incidents.set_severity, ctx, hana, key=fresh_key(), ref=ref, severity="P1") == no_longer
    assert refused(incidents.escalate, ctx, hana, key=fresh_key(), ref=ref) == no_longer
    assert refused(incidents.close, ctx, hana, key=fresh_key(), ref=ref, root_cause="r", lessons="l") == (
        f"Only an incident can be closed; {ref} is closed."
    )
    details = parse_report(ctx, report_values())
    assert refused(incidents.add_details, ctx, world.actor("erin"), key=fresh_key(), ref=ref, details=details) == (
        f"{ref} is already closed; please write to the security team instead."
    )
    incidents.add_note(ctx, hana, key=fresh_key(), ref=ref, note="Post-mortem on Friday")
    assert world.records("note-added", "INC")[-1][3] == {"note": "Post-mortem on Friday"}


def test_a_repeated_request_acts_once_and_keeps_its_answer(world):
    ctx, sam, erin = world.ctx, world.actor("sam"), world.actor("erin")
    ref = report(world)
    key = fresh_key()
    assert incidents.classify(ctx, sam, key=key, ref=ref).reply is None
    assert incidents.classify(ctx, sam, key=key, ref=ref).reply is None
    assert len(world.records("classified", "INC")) == 1

    details, key = parse_report(ctx, report_values(affected="Laptop")), fresh_key()
    first = incidents.add_details(ctx, erin, key=key, ref=ref, details=details).reply
    again = incidents.add_details(ctx, erin, key=key, ref=ref, details=details).reply
    assert first is not None and first.text == f"Thank you, the details are added to {ref}."
    assert again is not None and again.text == f"The details for {ref} are saved."
    assert len(world.records("details-added", "INC")) == 1


def test_only_the_reporter_and_the_team_change_a_report(world):
    ref = report(world)
    details = parse_report(world.ctx, report_values())
    answer = refused(incidents.add_details, world.ctx, world.actor("olga"), key=fresh_key(), ref=ref, details=details)
    assert answer == (
        "Sorry, changing this report is for Erin Evans (the owner), ISMS manager, security lead or security team "
        "only. This attempt has been recorded."
    )
    assert world.records("access-denied", "INC")[-1][:3] == ("olga", "access-denied", ref)


def test_a_refusal_is_answered_politely_through_the_router(world):
    ref = report(world)
    world.press("sam", "incident.classify", ref)
    reply = world.press("sam", "incident.classify", ref).reply
    assert reply is not None and reply.text == f"{ref} was already classified as an incident by Sam Shah."
    reply = world.press("sam", "incident.close", "INC-2026-0099").reply
    assert reply is not None and reply.text == "There is no incident INC-2026-0099."


def test_every_button_the_process_posts_has_a_route(world, clock):
    ref = report(world, personal_data="yes")
    for person, action in (("sam", "incident.classify"), ("sam", "incident.severity.P1")):
        world.press(person, action, ref)
    incidents.not_incident(world.ctx, world.actor("sam"), key=fresh_key(), ref=ref, reason="A test mail")
    incidents.classify(world.ctx, world.actor("sam"), key=fresh_key(), ref=ref)
    incidents.close(world.ctx, world.actor("sam"), key=fresh_key(), ref=ref, root_cause="r", lessons="l", override=True)
    quick = incidents.quick_report(world.ctx, world.actor("erin"), key=fresh_key(), text="Badge lost").reply
    world.deliver()
    assert quick is not None
    posted = {b.action_id for s in world.chat.sent for b in s.message.buttons} | {b.action_id for b in quick.buttons}
    assert {"incident.add_details", "incident.classify", "incident.notified", "incident.close"} <= posted
    assert all(action.startswith("incident.") for action in posted)
    assert posted <= set(world.runtime.router.actions)
