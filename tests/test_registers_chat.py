"""The registers in chat (the router Slack and the console share): lists with counts, filters and
pages, employees seeing only what they own, one item with its history, and ``/isms status`` lines."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.world import World, make_world, text_of
from workflows.registers.flows import import_file
from workflows.registers.kinds import KINDS

EXAMPLES = Path(__file__).parent.parent / "config" / "examples"


@pytest.fixture
def world(settings, clock) -> Iterator[World]:
    world = make_world(settings, clock)
    for kind, name in (("risk", "risks"), ("control", "controls"), ("asset", "assets"), ("supplier", "suppliers")):
        import_file(world.ctx, KINDS[kind], EXAMPLES / f"{name}.csv")
    yield world
    world.close()


def say(world: World, person: str, text: str) -> str:
    outcome = world.command(person, text)
    assert outcome.reply is not None
    return text_of(outcome.reply)


def buttons(world: World, person: str, text: str) -> list[tuple[str, str]]:
    outcome = world.command(person, text)
    assert outcome.reply is not None
    return [(button.action_id, button.label) for button in outcome.reply.buttons]


def test_overseers_see_the_whole_register_with_counts_first(world):
    for person in ("alice", "aldo", "mia"):
        answer = say(world, person, "risks")
        assert answer.startswith("Risks: 3 risks")
        assert "open: 2" in answer and "treated: 1" in answer
        assert "R-001 · Laptop with customer data stolen · level 4 · treated · Olga Ortiz" in answer
        assert "R-002 · Phishing leads to account takeover · level 12 (above appetite) · open · Erin Evans" in answer


def test_an_employee_sees_only_what_they_own(world):
    erin = say(world, "erin", "risks")
    assert erin.startswith("Your risks: 1 risk")
    assert "R-002" in erin and "R-001" not in erin and "R-003" not in erin
    olga = say(world, "olga", "risks owner:@erin")  # asking for somebody else's still shows only their own
    assert "R-001" in olga and "R-003" in olga and "R-002" not in olga
    assert "No risks found." in say(world, "hana", "risks")
    assert "Import them with" not in say(world, "hana", "risks")  # an employee cannot import


def test_an_empty_register_tells_the_overseer_how_to_fill_it(world):
    answer = say(world, "alice", "requirements")  # the fixture imports no requirements
    assert answer.startswith("Requirements: 0 requirements")
    assert "No requirements found. Import them with: isms-bot registers import requirement FILE" in answer
    assert "AS-002 · Microsoft 365 tenant · in use · Erin Evans" in say(world, "erin", "assets")


def test_filters_by_owner_status_and_text(world):
    by_owner = say(world, "alice", "risks owner:@olga")
    assert "R-001" in by_owner and "R-003" in by_owner and "R-002" not in by_owner
    assert "matching owner:olga" in by_owner
    assert "R-003" in say(world, "alice", "risks owner:<@U0OLGA|olga>")
    by_status = say(world, "alice", "risks status:open")
    assert "R-002" in by_status and "R-003" in by_status and "R-001" not in by_status
    by_text = say(world, "alice", "risks PHISHING")
    assert "R-002" in by_text and "R-001" not in by_text
    assert "critical" in say(world, "alice", "suppliers status:active cloudhost")
    assert say(world, "alice", "risks status:gone") == (
        "Risks have no status 'gone'; use one of open, treated, accepted, closed."
    )
    assert say(world, "alice", "risks owner:@zed").startswith("I know nobody called '@zed'")


def test_a_long_register_is_paged_with_a_more_button(world, tmp_path):
    rows = "".join(f"AS-{n:03d},Asset {n},hardware,olga,internal\n" for n in range(100, 145))
    path = tmp_path / "assets.csv"
    path.write_text("id,name,type,owner,classification\n" + rows, encoding="utf-8")
    import_file(world.ctx, KINDS["asset"], path)
    first = world.command("alice", "assets owner:@olga")
    assert first.reply is not None
    assert "Showing 1–20 of 47." in text_of(first.reply)
    (more,) = first.reply.buttons
    assert (more.action_id, more.label) == ("register.more", "More (27 left)")
    second = world.press("alice", more.action_id, more.value)
    assert second.reply is not None and "Showing 21–40 of 47." in text_of(second.reply)
    assert "AS-118" in text_of(second.reply) and "AS-002" not in text_of(second.reply)
    # an employee pressing an overseer's button still sees only their own
    erin = world.press("erin", more.action_id, more.value)
    assert erin.reply is not None and "AS-1" not in text_of(erin.reply)


def test_one_item_with_its_history_for_its_owner_and_overseers(world):
    answer = say(world, "erin", "risk R-002")
    assert answer.startswith("Risk R-002: Phishing leads to account takeover")
    assert "owner: Erin Evans" in answer and "likelihood: 4" in answer and "residual level: 12 (appetite 8)" in answer
    assert "isms-bot command line · imported from risks.csv" in answer
    # the current values stand before the history, so they do not read as the details of its last record
    values, history = answer.split("History (latest first):")
    assert "residual level: 12 (appetite 8)" in values and "imported from risks.csv" in history
    assert buttons(world, "erin", "risk R-002") == [
        ("risk.rerate", "Re-rate"),
        ("risk.accept", "Accept the risk"),
        ("risk.plan", "Plan treatment"),
    ]
    assert buttons(world, "aldo", "risk R-002") == []  # auditors read, they do not act
    assert "applicable: yes" in say(world, "alice", "control A.5.23")
    refused = say(world, "erin", "risk R-001")
    assert refused.startswith("Sorry, risk R-001 is for Olga Ortiz (the owner),")
    assert "recorded" in refused
    assert [data["attempted"] for _, _, _, data in world.records("access-denied", "RA")] == ["risk R-001"]
    assert say(world, "alice", "risk R-404") == "There is no risk R-404 in the risk register."
    assert say(world, "alice", "risk").startswith("Which risk?")


def test_status_lines_for_overseers(world):
    lines = next(p for p in world.ctx.processes if p.id == "RT").status
    assert lines is not None
    with world.ctx.read() as session:
        shown = lines(session, world.ctx, world.clock())
    assert shown == [
        "Registers: 3 risks, 5 controls, 3 assets, 2 suppliers",
        "Risks above appetite without acceptance or plan: 1",
        "Applicable controls without an evidence activity: 2",
    ]
    assert "Risks above appetite without acceptance or plan: 1" in say(world, "alice", "status")
