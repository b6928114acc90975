"""Risk acceptance and treatment through the router (as Slack and the console call it): acceptance
above appetite with a reason and an expiry, the risk coming back when the expiry passes (controlled
clock), a treatment plan whose actions become change requests, and a re-rating above appetite that
asks the owner to decide."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.models import Change, RegisterItem
from tests.world import World, berlin, fresh_key, make_world, records_about, report_values, text_of
from workflows.incidents import flows as incidents
from workflows.incidents.forms import parse_report
from workflows.registers.flows import import_file
from workflows.registers.kinds import KINDS

EXAMPLES = Path(__file__).parent.parent / "config" / "examples"


@pytest.fixture
def world(settings, clock) -> Iterator[World]:
    world = make_world(settings, clock)
    import_file(world.ctx, KINDS["risk"], EXAMPLES / "risks.csv")
    yield world
    world.close()


def risk(world: World, ref: str) -> RegisterItem:
    with world.ctx.read() as session:
        found = session.scalar(select(RegisterItem).where(RegisterItem.kind == "risk", RegisterItem.ref == ref))
        assert found is not None
        return found


def said(outcome) -> str:  # type: ignore[no-untyped-def]
    assert outcome.reply is not None
    return text_of(outcome.reply)


def undecided(world: World) -> str:
    status = next(p for p in world.ctx.processes if p.id == "RT").status
    assert status is not None
    with world.ctx.read() as session:
        return status(session, world.ctx, world.clock())[1]


def test_acceptance_runs_until_its_expiry_and_then_the_owner_is_asked_again(world):
    opened = world.press("erin", "risk.accept", "R-002")
    assert opened.form is not None and opened.form.title == "Accept risk R-002"
    assert [field.name for field in opened.form.fields] == ["reason", "until"]
    for values, problem in (
        ({"reason": "", "until": "2026-12-31"}, {"reason": "Please fill in the reason."}),
        ({"reason": "ok", "until": "2026-11-20"}, {"until": "The acceptance must end after today."}),
        ({"reason": "ok", "until": "2028-01-01"}, {"until": "At most 365 days ahead, please."}),
        ({"reason": "ok", "until": "soon"}, {"until": "Pick the date the acceptance ends (YYYY-MM-DD)."}),
    ):
        assert world.fill("erin", "risk.accept", values, "R-002").errors == problem
    assert risk(world, "R-002").status == "open"

    values = {"reason": "MFA rollout finishes in January; we carry the risk until then", "until": "2026-12-31"}
    assert said(world.fill("erin", "risk.accept", values, "R-002")).startswith("Risk R-002 accepted until 2026-12-31.")
    accepted = risk(world, "R-002")
    assert accepted.status == "accepted" and accepted.fields["accepted_by"] == "erin"
    (record,) = [data for _, process, action, data in records_about(world.ctx, "R-002") if action == "risk-accepted"]
    assert record == {
        "level": 12,
        "appetite": 8,
        "reason": values["reason"],
        "until": "2026-12-31",
        "previous_status": "open",
    }
    assert undecided(world) == "Risks above appetite without acceptance or plan: 0"
    assert "Accept the risk" not in [b.label for b in world.command("erin", "risk R-002").reply.buttons]  # type: ignore[union-attr]
    history = said(world.command("erin", "risk R-002")).split("History (latest first):")[1]
    assert f"Erin Evans · accepted until 2026-12-31: {values['reason']}" in history  # what was decided

    assert world.at(berlin(2026, 12, 31, 23, 30)) == []  # the last day still counts
    sent = world.at(berlin(2027, 1, 1, 0, 5))
    assert sent == [("erin", "Risk R-002 needs your decision: Phishing leads to account takeover")]
    assert "Your acceptance ran until 2026-12-31." in text_of(world.chat.to("erin")[-1])
    assert world.chat.button("erin", "risk.accept") == "R-002"
    assert risk(world, "R-002").status == "open"
    assert undecided(world) == "Risks above appetite without acceptance or plan: 1"
    assert [action for _, _, action, _ in records_about(world.ctx, "R-002")][-1] == "acceptance-expired"
    assert "ISMS bot · acceptance until 2026-12-31 ran out" in said(world.command("erin", "risk R-002"))
    assert world.at(berlin(2027, 1, 1, 0, 10)) == []  # handled once

    again = {"reason": "Rollout slipped", "until": "2027-02-28"}
    assert said(world.fill("erin", "risk.accept", again, "R-002")).startswith("Risk R-002 accepted until 2027-02-28.")


def test_only_risks_above_appetite_are_accepted_and_only_by_their_owner(world):
    assert said(world.fill("olga", "risk.accept", {"reason": "fine", "until": "2026-12-31"}, "R-003")) == (
        "Risk R-003 is within the appetite (level 6); it needs no acceptance."
    )
    assert said(world.press("olga", "risk.accept", "R-002")).startswith("Sorry, accepting risk R-002 is for Erin Evans")
    assert said(world.press("erin", "risk.accept", "R-404")) == "There is no risk R-404 in the risk register."


def test_a_treatment_plan_becomes_change_requests_that_report_back_to_the_risk(world):
    form = world.press("erin", "risk.plan", "R-002").form
    assert form is not None and form.title == "Treat risk R-002"
    assert world.fill("erin", "risk.plan", {"actions": "  \n "}, "R-002").errors == {
        "actions": "Please fill in at least one action."
    }
    too_many = "\n".join(f"Action {n}" for n in range(11))
    assert world.fill("erin", "risk.plan", {"actions": too_many}, "R-002").errors == {
        "actions": "At most 10 actions, one per line (this has 11)."
    }
    actions = "Enforce MFA on every account\n\nPhishing training for all staff\n"
    answer = said(world.fill("erin", "risk.plan", {"actions": actions}, "R-002"))
    assert answer == "Treatment of risk R-002 planned: CHG-2026-0001, CHG-2026-0002 requested."
    assert risk(world, "R-002").status == "treated"
    with world.ctx.read() as session:
        changes = [
            (c.ref, c.title, c.origin_process, c.origin_ref, c.element, c.state)
            for c in session.scalars(select(Change).order_by(Change.id))
        ]
    assert changes == [
        ("CHG-2026-0001", "Enforce MFA on every account", "RT", "R-002", "risk R-002", "awaiting-approval"),
        ("CHG-2026-0002", "Phishing training for all staff", "RT", "R-002", "risk R-002", "awaiting-approval"),
    ]
    assert undecided(world) == "Risks above appetite without acceptance or plan: 0"

    world.fill("alice", "change.decline", {"reason": "Training is covered by the awareness plan"}, "CHG-2026-0002")
    news = [data for _, _, action, data in records_about(world.ctx, "R-002") if action == "treatment-change"]
    assert [(n["change"], n["state"]) for n in news][-1] == ("CHG-2026-0002", "declined")
    history = said(world.command("erin", "risk R-002")).split("History (latest first):")[1]
    assert "Erin Evans · treatment planned: CHG-2026-0001, CHG-2026-0002" in history
    assert "CHG-2026-0002 declined" in history and "treatment change" not in history
    assert any(
        "CHG-2026-0002, a treatment action of risk R-002, is finished: declined." in t for t in world.chat.texts("erin")
    )


def test_re_rating_above_appetite_asks_the_owner_to_accept_or_plan(world):
    values = {"likelihood": "3", "impact": "3", "residual_likelihood": "3", "residual_impact": "3", "reason": "New DC"}
    assert world.fill("olga", "risk.rerate", values | {"likelihood": "9"}, "R-003").errors == {
        "likelihood": "Pick a value from 1 to 5."
    }
    assert said(world.fill("olga", "risk.rerate", values, "R-003")) == (
        "Risk R-003 re-rated: residual level 9 (appetite 8)."
    )
    (question,) = [text_of(m) for m in world.chat.to("olga") if "needs your decision" in m.text]
    assert "It was re-rated. Its residual level is 9, above the appetite of 8." in question
    assert said(world.fill("olga", "risk.rerate", values, "R-003")) == "Risk R-003 keeps its rating; nothing changed."


def test_a_closed_incident_on_an_asset_asks_the_risk_owner_whether_to_re_rate(world):
    import_file(world.ctx, KINDS["asset"], EXAMPLES / "assets.csv")
    hana = world.actor("hana")
    details = parse_report(world.ctx, report_values(affected="Stolen laptop AS-001 (staff laptops)"))
    outcome = incidents.report(world.ctx, world.actor("erin"), key=fresh_key(), details=details)
    assert outcome.reply is not None
    ref = "INC-" + outcome.reply.text.split("INC-", 1)[1][:9]
    incidents.classify(world.ctx, hana, key=fresh_key(), ref=ref)
    incidents.close(world.ctx, hana, key=fresh_key(), ref=ref, root_cause="Left in a taxi", lessons="Lock screens")
    world.deliver()
    (question,) = [m for m in world.chat.to("olga") if "need re-rating" in m.text]
    assert question.text == f"{ref} affected AS-001: does risk R-001 need re-rating?"
    assert [(b.action_id, b.value) for b in question.buttons] == [("risk.rerate", "R-001")]
    assert [data for _, _, action, data in records_about(world.ctx, "R-001") if action == "incident-on-asset"] == [
        {"incident": ref, "assets": ["AS-001"]}
    ]
    assert not [m for m in world.chat.to("erin") if "need re-rating" in m.text]  # R-002 is on AS-002

    other = parse_report(world.ctx, report_values(affected="The coffee machine"))
    second = incidents.report(world.ctx, world.actor("erin"), key=fresh_key(), details=other)
    assert second.reply is not None
    ref2 = "INC-" + second.reply.text.split("INC-", 1)[1][:9]
    incidents.classify(world.ctx, hana, key=fresh_key(), ref=ref2)
    incidents.close(world.ctx, hana, key=fresh_key(), ref=ref2, root_cause="Spilt", lessons="None")
    world.deliver()
    assert len([m for m in world.chat.to("olga") if "need re-rating" in m.text]) == 1


def test_the_owners_home_shows_risks_waiting_for_their_decision(world):
    assert "Risk R-002 needs your decision" in said(world.command("erin", "home"))
    items = next(p for p in world.ctx.processes if p.id == "RT").home
    assert items is not None
    (waiting,) = items(world.ctx, world.actor("erin"))
    assert waiting.text == "Risk R-002 needs your decision: Phishing leads to account takeover"
    assert [b.action_id for b in waiting.buttons] == ["risk.accept", "risk.plan"]
    assert items(world.ctx, world.actor("olga")) == []
    world.fill("erin", "risk.accept", {"reason": "Until the rollout", "until": "2026-12-31"}, "R-002")
    assert items(world.ctx, world.actor("erin")) == []
