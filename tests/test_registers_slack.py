"""A risk owner keeps their risks current through Slack's signed requests: re-rating in a modal
(every changed value a record with the old one), acceptance above appetite with an expiry that brings
the risk back on the controlled clock, and a treatment plan whose actions become change requests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select
from typer.testing import CliRunner

from bot.cli import app
from storage.models import RegisterItem
from tests.slack_client import SlackUser
from tests.test_changes_slack import chosen, click, dms, opened_modal, submit_view, text
from tests.world import records_about

EXAMPLES = Path(__file__).parent.parent / "config" / "examples"


def import_risks(db_url: str) -> None:
    result = CliRunner().invoke(
        app, ["registers", "import", "risk", str(EXAMPLES / "risks.csv")], env={"ISMS_DATABASE_URL": db_url}
    )
    assert result.exit_code == 0, result.output


def risk(bot, ref: str) -> RegisterItem:  # type: ignore[no-untyped-def]
    with bot.runtime.ctx.read() as session:
        found = session.scalar(select(RegisterItem).where(RegisterItem.kind == "risk", RegisterItem.ref == ref))
        assert found is not None
        session.expunge(found)
        return found


def ratings(
    likelihood: str, impact: str, residual_likelihood: str, residual_impact: str, reason: str
) -> dict[str, Any]:
    return {
        "likelihood": chosen(likelihood),
        "impact": chosen(impact),
        "residual_likelihood": chosen(residual_likelihood),
        "residual_impact": chosen(residual_impact),
        "reason": text(reason),
    }


def test_the_owner_re_rates_a_risk_and_the_record_holds_the_old_values(bot, slack, db_url):
    import_risks(db_url)
    erin = SlackUser(bot.url, slack, "U0ERIN")
    status, response_url = erin.command("/isms", "risk R-002")
    assert status == 200
    shown = erin.reply_text(response_url)
    assert "Risk R-002: Phishing leads to account takeover" in shown and "Re-rate" in shown

    click(bot, slack, "U0ERIN", "risk.rerate", "R-002")
    modal = opened_modal(slack, "risk.rerate")
    assert modal["title"]["text"] == "Re-rate R-002"
    assert [block["block_id"] for block in modal["blocks"]] == [
        "likelihood",
        "impact",
        "residual_likelihood",
        "residual_impact",
        "reason",
    ]
    status, body = submit_view(
        bot, "U0ERIN", "risk.rerate", ratings("4", "4", "2", "3", "  "), modal["private_metadata"]
    )
    assert status == 200 and '"reason": "Please fill in the reason."' in body
    assert risk(bot, "R-002").level == 12  # nothing stored

    values = ratings("4", "4", "2", "3", "MFA is enforced for every account now")
    status, body = submit_view(bot, "U0ERIN", "risk.rerate", values, modal["private_metadata"])
    assert (status, body) == (200, "")
    (said,) = dms(slack, "U0ERIN", "re-rated")
    assert said.startswith("Risk R-002 re-rated: residual level 6 (appetite 8).")
    changed = [
        (who, process, data["field"], data["old"], data["new"], data["reason"])
        for who, process, action, data in records_about(bot.runtime.ctx, "R-002")
        if action == "item-changed"
    ]
    assert changed == [
        ("erin", "RA", "residual_likelihood", 3, 2, "MFA is enforced for every account now"),
        ("erin", "RA", "residual_impact", 4, 3, "MFA is enforced for every account now"),
    ]
    assert risk(bot, "R-002").level == 6

    # somebody who does not own the risk gets no form, and the attempt is recorded
    response_url = click(bot, slack, "U0OLGA", "risk.rerate", "R-002")
    refusal = SlackUser(bot.url, slack, "U0OLGA").reply_text(response_url)
    assert refusal.startswith("Sorry, re-rating risk R-002 is for Erin Evans (the owner) or ISMS manager only.")
    assert [action for _, _, action, _ in records_about(bot.runtime.ctx, "R-002")][-1] == "access-denied"


def test_a_change_on_an_asset_is_verified_by_the_asset_owner(bot, slack, db_url):
    result = CliRunner().invoke(
        app, ["registers", "import", "asset", str(EXAMPLES / "assets.csv")], env={"ISMS_DATABASE_URL": db_url}
    )
    assert result.exit_code == 0, result.output
    erin = SlackUser(bot.url, slack, "U0ERIN")
    erin.command("/isms", "change")
    modal = opened_modal(slack, "change.request")
    values = {
        "title": text("Encrypt the customer database at rest"),
        "description": text("Turn on storage encryption"),
        "reason": text("Audit finding"),
        "element": {"registers": {"type": "external_select", "selected_option": {"value": "asset:AS-003"}}},
        "plan": text("Enable TDE"),
        "fallback": text("Disable TDE"),
        "priority": chosen("high"),
        "significant": chosen("no"),
    }
    assert submit_view(bot, "U0ERIN", "change.request", values, modal["private_metadata"]) == (200, "")
    dms(slack, "U0ERIN", "Your request for change")
    ref = "CHG-2026-0001"
    assert [
        (who, data) for who, process, action, data in records_about(bot.runtime.ctx, ref) if action == "verifier-chosen"
    ] == [("erin", {"verifier": "olga", "element": "asset: AS-003 Customer database"})]

    click(bot, slack, "U0ALICE", "change.approve", ref)
    approve = opened_modal(slack, "change.approve")
    submit_view(bot, "U0ALICE", "change.approve", {"reason": text("Needed")}, approve["private_metadata"])
    dms(slack, "U0ERIN", "now has tracker issue LOCAL-1")
    SlackUser(bot.url, slack, "U0ALICE").command("/isms", "ticket LOCAL-1 done TDE on")

    assert dms(slack, "U0OLGA", "Does it work as intended?")  # the asset's owner is asked, not the requester
    assert not [m for m in dms(slack, "U0ERIN", "") if "Does it work as intended?" in m]
    refused = click(bot, slack, "U0ERIN", "change.verify", ref)
    assert "is for Olga Ortiz (the owner)" in erin.reply_text(refused)
    verified = click(bot, slack, "U0OLGA", "change.verify", ref)
    assert f"Thank you: {ref} is verified." in SlackUser(bot.url, slack, "U0OLGA").reply_text(verified)
