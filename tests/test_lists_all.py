"""``/isms incidents all`` and ``/isms changes all``: closed ones too, a period, paged, with the role
rules of the open lists; a period that cannot be read gets a message saying what to type."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import insert

from storage.models import Change, Incident
from tests import status_data
from tests.world import World, text_of


@pytest.fixture
def world(settings, clock, tmp_path) -> Iterator[World]:
    world = status_data.reporting_world(settings, clock, tmp_path)
    status_data.seed(world)
    yield world
    world.close()


def more_of(reply) -> str:  # type: ignore[no-untyped-def]
    return next(b.value for b in reply.buttons if b.label.startswith("More"))


def test_all_incidents_show_closed_ones_with_counts_first(world):
    reply = world.command("sam", "incidents all").reply
    assert reply is not None
    assert reply.text == "8 incident reports, open and closed"
    assert reply.fields == (("Reported, waiting for triage", "1"), ("Incident, being handled", "3"), ("Closed", "4"))
    assert "INC-2026-0101 · Closed" in reply.body or "INC-2026-0101 · closed" in reply.body.lower()
    assert reply.body.index("INC-2026-0108") < reply.body.index("INC-2026-0101")  # newest first


def test_all_incidents_in_a_period_and_since_a_date(world):
    with world.ctx.sessions.begin() as session:
        old = status_data.incident(50, "erin", status="closed", reported_at=status_data.T - timedelta(days=120))
        session.execute(insert(Incident), [old])
    assert world.command("alice", "incidents all").reply.text.startswith("9 ")  # type: ignore[union-attr]
    q4 = world.command("alice", "incidents all 2026-Q4").reply
    assert q4 is not None and q4.text == "8 incident reports reported in 2026-Q4, open and closed"
    assert "INC-2026-0150" not in q4.body
    since = world.command("alice", "incidents all since 2026-06-01").reply
    assert since is not None and since.text == "9 incident reports reported since 2026-06-01, open and closed"
    none = world.command("alice", "incidents all 2025").reply
    assert none is not None and none.text == "No incident reports reported in 2025."


@pytest.mark.parametrize("text", ["since 2026-13-01", "since yesterday", "2026-Q5", "last year"])
def test_a_period_that_cannot_be_read_says_what_to_type(world, text):
    for command in ("incidents all", "changes all"):
        reply = world.command("alice", f"{command} {text}").reply
        assert reply is not None
        assert f"I cannot read '{text}'" in reply.text and "since 2026-10-01" in reply.text


def test_employees_are_refused_all_incidents_as_the_open_list(world):
    for text in ("incidents", "incidents all", "incidents all 2026-Q4"):
        reply = world.command("erin", text).reply
        assert reply is not None and reply.text.startswith("Sorry, the list of incidents is for")


def test_all_incidents_are_paged_with_the_period_kept(world):
    with world.ctx.sessions.begin() as session:
        session.execute(insert(Incident), [status_data.incident(n, "erin", status="closed") for n in range(10, 40)])
    first = world.command("hana", "incidents all 2026-Q4").reply
    assert first is not None and first.text.startswith("38 ")
    assert more_of(first) == "all 2026-Q4:20"
    second = world.press("hana", "incident.more", more_of(first)).reply
    assert second is not None and second.text == first.text and "Showing 21–38 of 38." in second.footer
    assert not [b for b in second.buttons if b.label.startswith("More")]
    refused = world.press("erin", "incident.more", more_of(first)).reply  # the button names no person
    assert refused is not None and refused.text.startswith("Sorry, the list of incidents is for")


def test_all_changes_for_overseers_and_own_for_employees(world):
    reply = world.command("alice", "changes all").reply
    assert reply is not None and reply.text == "3 changes, open and closed"
    assert dict(reply.fields) == {"In implementation": "1", "Verified": "2"}
    assert "closed" in reply.body and "CHG-2026-0001" in reply.body
    erin = world.command("erin", "changes all").reply
    assert erin is not None and erin.text == "2 changes you requested, open and closed"
    assert "CHG-2026-0003" not in erin.body
    olga_q3 = world.command("olga", "changes all 2026-Q3").reply  # hers was requested 45 days before 2 Nov
    assert olga_q3 is not None and olga_q3.text == "1 change you requested in 2026-Q3, open and closed"
    assert text_of(world.command("olga", "changes all 2027").reply).startswith("No changes you requested in 2027.")  # type: ignore[arg-type]


def test_all_changes_are_paged(world):
    rows = [
        {
            "ref": f"CHG-2026-{i:04d}",
            "title": f"Change {i}",
            "description": "d",
            "reason": "r",
            "origin_process": "INC",
            "origin_ref": "INC-2026-0001",
            "priority": "low",
            "state": "verified",
            "requester": "erin",
            "requester_to": "person:erin",
            "created_at": status_data.T,
            "updated_at": status_data.T,
            "closed_at": status_data.T,
            "tracker": "local",
            "significant": False,
        }
        for i in range(10, 40)
    ]
    with world.ctx.sessions.begin() as session:
        session.execute(insert(Change), rows)
    first = world.command("erin", "changes all since 2026-10-01").reply
    assert first is not None and first.text.startswith("32 changes you requested since 2026-10-01")  # with CHG-1 and 2
    assert more_of(first) == "all since 2026-10-01:20"
    second = world.press("erin", "change.more", more_of(first)).reply
    assert second is not None and "Showing 21–32 of 32." in second.footer
    open_list = world.press("alice", "change.more", "open:0").reply  # the open list's button still works
    assert open_list is not None and open_list.text == "1 open change"
