"""Requests for change raised from an incident (process CHG), and their result flowing back (INC)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from storage.models import Change, IncidentChange
from tests.world import World, fresh_key, make_world
from workflows.changes import flows as changes
from workflows.incidents import flows as incidents
from workflows.incidents.forms import ReportDetails
from workflows.kernel.access import Refused


@pytest.fixture
def world(settings, clock) -> Iterator[World]:
    world = make_world(settings, clock)
    yield world
    world.close()


def open_incident(world: World) -> str:
    outcome = incidents.report(
        world.ctx,
        world.actor("erin"),
        key=fresh_key(),
        details=ReportDetails(
            summary="Ransomware note on the file server",
            noticed_at=world.ctx.clock(),
            category="malware",
            personal_data="no",
        ),
    )
    assert outcome.reply is not None
    ref = re.search(r"INC-\d{4}-\d{4}", outcome.reply.text).group(0)  # type: ignore[union-attr]
    sam = world.actor("sam")
    incidents.classify(world.ctx, sam, key=fresh_key(), ref=ref)
    incidents.assign(world.ctx, sam, key=fresh_key(), ref=ref, handler="hana")
    world.deliver()
    return ref


def request(world: World, ref: str, person: str = "hana", **fields: str) -> str:
    values = {
        "title": "Block macros in mail attachments",
        "description": "Group policy: block macros from the internet in Office.",
        "reason": "The ransomware came in through a macro.",
    } | fields
    incidents.request_change(world.ctx, world.actor(person), key=fresh_key(), ref=ref, **values)
    world.deliver()
    with world.ctx.read() as session:
        link = session.scalars(select(IncidentChange).order_by(IncidentChange.id.desc())).first()
    assert link is not None
    return link.change_ref


def test_request_change_creates_one_change_request_with_the_incident_as_origin(world):
    ref = open_incident(world)
    change_ref = request(world, ref)
    assert re.fullmatch(r"CHG-2026-\d{4}", change_ref)
    with world.ctx.read() as session:
        change = session.scalar(select(Change).where(Change.ref == change_ref))
    assert change is not None
    assert (change.origin_process, change.origin_ref, change.title, change.requester) == (
        "INC",
        ref,
        "Block macros in mail attachments",
        "hana",
    )
    assert world.records("change-requested", "INC") == [
        ("hana", "change-requested", ref, {"change": change_ref, "title": "Block macros in mail attachments"})
    ]
    assert f"Hana Hart requested change {change_ref}: Block macros in mail attachments" in world.chat.thread(ref)
    post = world.chat.triage_posts(ref)[-1].text
    assert f"Changes: {change_ref} Block macros in mail attachments (Requested)" in post


def test_finished_change_is_posted_in_the_incident_thread_and_told_to_the_handler(world):
    ref = open_incident(world)
    change_ref = request(world, ref)
    with world.ctx.work(world.actor("alice")) as work:
        changes.decide(work, changes.find(work, change_ref), approve=False, reason="Breaks the finance macros")
    world.deliver()
    line = f"Change {change_ref}: Declined. Result: Declined: Breaks the finance macros"
    assert line in world.chat.thread(ref)
    assert f"{ref}: {line}\nRansomware note on the file server" in world.chat.dm_texts("hana")
    assert not any(change_ref in t for t in world.chat.dm_texts("erin", incidents_only=False))
    with world.ctx.read() as session:
        link = session.scalar(select(IncidentChange).where(IncidentChange.change_ref == change_ref))
    assert link is not None and link.state == "declined" and link.finished_at == world.ctx.clock()
    assert world.records("change-finished", "INC") == [
        ("alice", "change-finished", ref, {"change": change_ref, "state": "declined"})
    ]
    assert f"Changes: {change_ref} Block macros in mail attachments (Declined)" in world.chat.triage_posts(ref)[-1].text


def test_invalid_change_request_stores_nothing(world):
    ref = open_incident(world)
    outcome = incidents.request_change(
        world.ctx, world.actor("hana"), key=fresh_key(), ref=ref, title="T" * 201, description="d", reason="r"
    )
    assert outcome.reply is not None and outcome.reply.text.startswith("The change was not requested: title:")
    with world.ctx.read() as session:
        assert session.scalars(select(Change)).all() == []
        assert session.scalars(select(IncidentChange)).all() == []


def test_an_employee_cannot_request_a_change_from_an_incident(world):
    ref = open_incident(world)
    with pytest.raises(Refused):
        incidents.request_change(
            world.ctx, world.actor("erin"), key=fresh_key(), ref=ref, title="t", description="d", reason="r"
        )
    assert world.records("access-denied", "INC")[-1][3]["attempted"] == "requesting changes from incidents"
