"""The management review pack's input f) (risk assessment and treatment) from what the risk owner
really does in chat: an acceptance above appetite, its expiry on the controlled clock, and a treatment
plan whose actions became change requests, each read back in words, counts first."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_review_pack import pack_records, review_org
from tests.world import World, berlin, make_world, text_of
from workflows.registers.flows import import_file
from workflows.registers.kinds import KINDS

EXAMPLES = Path(__file__).parent.parent / "config" / "examples"
RISKS = "## 9.3.2 f) Risk assessment results and risk treatment status"


@pytest.fixture
def world(settings, clock, tmp_path) -> Iterator[World]:
    world = make_world(settings, clock, review_org(tmp_path))
    import_file(world.ctx, KINDS["risk"], EXAMPLES / "risks.csv")
    yield world
    world.close()


def risk_input(markdown: str) -> list[str]:
    section = markdown.split(RISKS, 1)[1].split("\n## ", 1)[0]
    return [line.removeprefix("- ") for line in section.strip().splitlines() if line.strip()]


def test_acceptance_its_expiry_and_a_treatment_plan_are_in_the_pack(world, clock):
    world.tick()
    accepted = world.fill("erin", "risk.accept", {"reason": "MFA rollout in Q1", "until": "2027-01-31"}, "R-002")
    assert accepted.reply is not None and text_of(accepted.reply).startswith("Risk R-002 accepted until 2027-01-31.")
    world.at(berlin(2027, 2, 1, 0, 5))  # the acceptance ran out: the risk is open again
    planned = world.fill("erin", "risk.plan", {"actions": "Enforce MFA for finance\nPhishing drill"}, "R-002")
    assert planned.reply is not None and "planned" in text_of(planned.reply)

    world.at(berlin(2027, 3, 8, 10, 0))
    [(_, _, _, data)] = pack_records(world)
    lines = risk_input(data["markdown"])
    counts = lines[0].split(", ")
    assert "1 risk accepted" in counts and "1 risk acceptance expired" in counts
    assert "1 risk treatment planned" in counts and "3 risks imported" in counts
    shown = "\n".join(lines)
    assert "risk R-002 accepted" in shown and "risk R-002 acceptance expired" in shown
    assert "risk R-002 treatment planned" in shown
    assert "RT " not in shown and "risk-accepted" not in shown  # no process ids or record kinds
