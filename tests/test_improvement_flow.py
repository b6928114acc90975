"""The improvement register (IMPR) through the router both surfaces share: suggestions from anyone
(empty or over-long ones refused, nothing stored), the ISMS manager accepting one into a change that
comes back done, declining one with the author told why, and what audits hand over."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from storage.models import Improvement
from tests.support import FakeClock
from tests.test_audits_flow import record_finding, start_audit
from tests.world import World, change, make_world, text_of
from workflows.common.home import home as home_view


@pytest.fixture
def world(settings, clock: FakeClock) -> Iterator[World]:
    w = make_world(settings, clock)
    yield w
    w.close()


def suggest(world: World, person: str, text: str) -> str:
    outcome = world.command(person, f"suggest {text}")
    world.deliver()
    assert outcome.reply is not None
    return outcome.reply.text


def items(world: World) -> int:
    with world.ctx.read() as session:
        return int(session.scalar(select(func.count()).select_from(Improvement)) or 0)


def state(world: World, ref: str) -> str:
    with world.ctx.read() as session:
        return str(session.scalar(select(Improvement.state).where(Improvement.ref == ref)))


def test_an_empty_or_over_long_suggestion_is_refused_and_nothing_is_stored(world: World) -> None:
    assert suggest(world, "erin", "   ") == (
        "Please write your suggestion after the command: /isms suggest <what could be better>"
    )
    assert suggest(world, "erin", "x" * 2001) == "At most 2,000 characters, please (this has 2,001)."
    assert items(world) == 0
    assert world.records("suggestion-made") == []


def test_a_suggestion_accepted_becomes_a_change_and_its_author_hears_when_it_is_done(world: World) -> None:
    assert suggest(world, "erin", "Offer a password manager to <!channel> everyone") == (
        "Thank you: your suggestion IMPR-2026-0001 is recorded."
    )
    (made,) = world.records("suggestion-made", "IMPR")
    assert (made[0], made[2], made[3]["text"]) == (
        "erin",
        "IMPR-2026-0001",
        "Offer a password manager to <!channel> everyone",
    )
    request = world.chat.to("alice")[-1]
    assert request.text == "Improvement IMPR-2026-0001 waits for your decision: a suggestion from Erin Evans"
    assert [b.label for b in request.buttons] == ["Accept (request a change)", "Decline"]

    refused = world.press("erin", "improvement.accept", "IMPR-2026-0001")
    assert refused.reply is not None and refused.reply.text == (
        "Sorry, deciding on improvements is for ISMS manager only. This attempt has been recorded."
    )
    accepted = world.press("alice", "improvement.accept", "IMPR-2026-0001")

    assert (
        accepted.reply is not None and accepted.reply.text == "IMPR-2026-0001 is accepted: it is change CHG-2026-0001."
    )
    requested = change(world.ctx, "CHG-2026-0001")
    assert (requested.origin_process, requested.origin_ref) == ("IMPR", "IMPR-2026-0001")
    assert world.records("suggestion-accepted", "IMPR")[0][3] == {"change": "CHG-2026-0001"}
    assert "Your suggestion IMPR-2026-0001 was accepted: it is change CHG-2026-0001." in world.chat.texts("erin")
    again = world.press("alice", "improvement.accept", "IMPR-2026-0001")
    assert again.reply is not None and again.reply.text == (
        "IMPR-2026-0001 was already decided: it is accepted (change CHG-2026-0001)."
    )

    world.press("sam", "change.approve", "CHG-2026-0001")
    world.fill("sam", "change.approve", {"reason": "Cheap and useful"}, "CHG-2026-0001")
    world.command("alice", "ticket LOCAL-1 done Rolled out")
    world.press("alice", "change.verify", "CHG-2026-0001")

    assert state(world, "IMPR-2026-0001") == "done"
    assert "Your suggestion IMPR-2026-0001 is done: change CHG-2026-0001 ended." in world.chat.texts("erin")


def test_a_declined_suggestion_tells_its_author_why(world: World) -> None:
    suggest(world, "erin", "Remove the VPN")
    assert world.press("alice", "improvement.decline", "IMPR-2026-0001").form is not None
    empty = world.fill("alice", "improvement.decline", {"reason": " "}, "IMPR-2026-0001")
    assert empty.errors == {"reason": "Please fill in the reason."}
    assert state(world, "IMPR-2026-0001") == "open"

    declined = world.fill("alice", "improvement.decline", {"reason": "Remote staff need it"}, "IMPR-2026-0001")

    assert declined.reply is not None and declined.reply.text == "IMPR-2026-0001 is declined; Erin Evans is told why."
    told = world.chat.to("erin")[-1]
    assert told.text == "Your suggestion IMPR-2026-0001 was declined."
    assert ("Reason", "Remote staff need it") in told.fields
    assert world.records("suggestion-declined", "IMPR")[0][3] == {"reason": "Remote staff need it"}
    assert "Improvement IMPR-2026-0001 was declined by Alice Adams." in world.chat.texts("alice")
    assert world.press("alice", "improvement.accept", "IMPR-2026-0001").reply.text == (  # type: ignore[union-attr]
        "IMPR-2026-0001 was already decided: it is declined."
    )


def test_audit_findings_join_the_register_and_people_see_what_is_theirs(world: World) -> None:
    suggest(world, "erin", "Shorter policies")
    start_audit(world)
    record_finding(world)
    record_finding(world, "opportunity", text="Automate the access review")
    record_finding(world, "observation")

    register = world.command("alice", "improvements").reply
    assert register is not None and register.text == "Improvement register: 3 items"
    assert ("Open", "2") in register.fields and ("Accepted", "1") in register.fields
    lines = register.body.splitlines()
    assert lines[0].startswith("IMPR-2026-0001 Open · suggestion from chat by Erin Evans")
    assert lines[1].startswith("IMPR-2026-0003 Open · opportunity from AUD AUD-2026-0001-F2 by Aldo Auer")
    assert lines[2].startswith(
        "IMPR-2026-0002 Accepted · nonconformity from AUD AUD-2026-0001-F1 by Aldo Auer · change CHG-2026-0001"
    )
    assert "Improvement IMPR-2026-0003 waits for your decision: an opportunity from Aldo Auer" in world.chat.texts(
        "alice"
    )
    mine = world.command("erin", "improvements").reply
    assert mine is not None and mine.text == "Your improvement suggestions: 1 item"
    assert "Automate" not in text_of(mine)

    world.press("alice", "change.approve", "CHG-2026-0001")
    world.fill("alice", "change.approve", {"reason": "Audit"}, "CHG-2026-0001")
    world.command("alice", "ticket LOCAL-1 done Fixed")
    world.press("aldo", "change.verify", "CHG-2026-0001")
    assert state(world, "IMPR-2026-0002") == "done"
    status = world.command("alice", "status").reply
    assert status is not None and "Improvements: open 2, done 1" in text_of(status)


def test_the_isms_manager_finds_open_suggestions_on_the_app_home(world: World) -> None:
    suggest(world, "erin", "Shorter policies")

    home = world.command("alice", "home").reply
    erins = world.command("erin", "home").reply

    assert home is not None and "Improvement IMPR-2026-0001 waits for your decision" in text_of(home)
    sections = home_view(world.ctx, world.actor("alice")).sections
    assert {"Accept (request a change)", "Decline"} <= {b.label for section in sections for b in section.buttons}
    assert erins is not None and "IMPR-2026-0001" not in text_of(erins)


def test_a_metric_over_its_threshold_joins_the_register_once(settings, clock: FakeClock, tmp_path) -> None:
    from tests import status_data

    w = status_data.reporting_world(settings, clock, tmp_path)
    try:
        status_data.seed(w)
        w.tick()
        clock.advance(days=1)
        w.tick()

        register = w.command("alice", "improvements").reply
        assert register is not None and register.text == "Improvement register: 1 item"
        assert register.body.startswith(
            "IMPR-2026-0001 Open · suggestion from PERF inc.triage.p90.P1:2026-11 by Sam Shah · Metric over its "
            "threshold: Time to triage P1"
        )
        assert "Improvement IMPR-2026-0001 waits for your decision: a suggestion from Sam Shah" in w.chat.texts("alice")
    finally:
        w.close()
