"""A change's affected element is picked from the registers: Slack's search box asks the bot for
matches (signed ``block_suggestion``), the picked item's owner verifies the change, a value that names
no item is refused on the field with nothing stored, and the console offers the same matches."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select
from typer.testing import CliRunner

from bot.cli import app
from bot.runtime import build_runtime
from storage.models import Change
from tests.slack_client import SlackUser
from tests.test_changes_slack import chosen, click, dms, opened_modal, submit_view, text
from tests.test_console import scripted
from tests.world import change, records_about

EXAMPLES = Path(__file__).parent.parent / "config" / "examples"
MANIFEST = Path(__file__).parent.parent / "bot" / "slack" / "manifest.yaml"
LONG = "Archive of scanned supplier contracts, invoices and delivery notes kept since 2009"


def import_register(db_url: str, kind: str, path: Path) -> None:
    result = CliRunner().invoke(app, ["registers", "import", kind, str(path)], env={"ISMS_DATABASE_URL": db_url})
    assert result.exit_code == 0, result.output


def registers(db_url: str, tmp_path: Path) -> None:
    """The example assets and risks, plus an asset whose name is longer than a Slack option."""
    assets = tmp_path / "assets.csv"
    assets.write_text(
        (EXAMPLES / "assets.csv").read_text().rstrip("\n") + f'\nAS-004,"{LONG}",information,erin,internal,in_use\n'
    )
    import_register(db_url, "asset", assets)
    import_register(db_url, "risk", EXAMPLES / "risks.csv")


def options(user: SlackUser, typed: str) -> list[tuple[str, str]]:
    status, body = user.suggest("registers", "element", typed, "change.request")
    assert status == 200
    return [(option["value"], option["text"]["text"]) for option in json.loads(body)["options"]]


def picked(value: str) -> dict[str, Any]:
    return {"registers": {"type": "external_select", "selected_option": {"value": value}}}


def request_values(**element: dict[str, Any]) -> dict[str, Any]:
    return {
        "title": text("Encrypt the customer database at rest"),
        "description": text("Turn on storage encryption"),
        "reason": text("Audit finding"),
        "plan": text("Enable TDE"),
        "fallback": text("Disable TDE"),
        "priority": chosen("high"),
        "significant": chosen("no"),
        **element,
    }


def changes_stored(bot) -> int:  # type: ignore[no-untyped-def]
    with bot.runtime.ctx.read() as session:
        return session.scalar(select(func.count()).select_from(Change)) or 0


def test_the_search_box_offers_register_items_by_id_and_by_title_words(bot, slack, db_url, tmp_path):
    registers(db_url, tmp_path)
    erin = SlackUser(bot.url, slack, "U0ERIN")
    erin.command("/isms", "change")
    modal = opened_modal(slack, "change.request")
    (search,) = [block["element"] for block in modal["blocks"] if block["block_id"] == "element"]
    assert search == {"type": "external_select", "action_id": "registers", "min_query_length": 1}
    assert [b["block_id"] for b in modal["blocks"]][3:5] == ["element", "element_other"]

    assert options(erin, "as-00") == [
        ("asset:AS-001", "AS-001 · Staff laptops (asset, owner Olga Ortiz)"),
        ("asset:AS-002", "AS-002 · Microsoft 365 tenant (asset, owner Erin Evans)"),
        ("asset:AS-003", "AS-003 · Customer database (asset, owner Olga Ortiz)"),
        ("asset:AS-004", "AS-004 · Archive of scanned supplier contracts, … (asset, owner Erin Evans)"),
    ]
    assert all(len(label) <= 75 for _, label in options(erin, "as-00"))
    # every word must match the id or the title, in any case
    assert options(erin, "CUSTOMER data") == [("asset:AS-003", "AS-003 · Customer database (asset, owner Olga Ortiz)")]
    tenant = ("asset:AS-002", "AS-002 · Microsoft 365 tenant (asset, owner Erin Evans)")
    assert options(erin, "asset:AS-002") == [tenant]
    assert options(erin, "nothing like this") == []

    # Asset names are offered to every member (they are names, not secrets); a risk describes a
    # weakness, so it is offered to its owner and the overseers only.
    assert [value for value, _ in options(erin, "phishing")] == ["risk:R-002"]
    assert options(SlackUser(bot.url, slack, "U0DORA"), "phishing") == []
    assert [value for value, _ in options(SlackUser(bot.url, slack, "U0DORA"), "laptop")] == ["asset:AS-001"]
    assert [value for value, _ in options(SlackUser(bot.url, slack, "U0ALICE"), "laptop")] == [
        "asset:AS-001",
        "risk:R-001",
    ]
    assert changes_stored(bot) == 0  # searching stores nothing

    # a search box of an unknown source (an old form) gets no options rather than an error
    status, body = erin.suggest("no-such-source", "element", "AS-003")
    assert (status, json.loads(body)) == (200, {"options": []})


def test_the_manifest_sends_search_boxes_to_the_bot():
    interactivity = yaml.safe_load(MANIFEST.read_text())["settings"]["interactivity"]
    assert interactivity["message_menu_options_url"] == interactivity["request_url"]
    assert interactivity["request_url"].endswith("/slack/events")


def test_the_owner_of_the_picked_asset_verifies_the_change(bot, slack, db_url, tmp_path):
    registers(db_url, tmp_path)
    erin = SlackUser(bot.url, slack, "U0ERIN")
    erin.command("/isms", "change")
    modal = opened_modal(slack, "change.request")
    ((value, _),) = options(erin, "customer database")
    values = request_values(element=picked(value), element_other=text(""))
    assert submit_view(bot, "U0ERIN", "change.request", values, modal["private_metadata"]) == (200, "")
    dms(slack, "U0ERIN", "Your request for change")
    ref = "CHG-2026-0001"
    stored = change(bot.runtime.ctx, ref)
    assert (stored.element, stored.requester, stored.verifier) == ("asset: AS-003 Customer database", "erin", "olga")
    chosen_records = [data for _, _, action, data in records_about(bot.runtime.ctx, ref) if action == "verifier-chosen"]
    assert chosen_records == [{"verifier": "olga", "element": "asset: AS-003 Customer database"}]

    click(bot, slack, "U0ALICE", "change.approve", ref)
    approve = opened_modal(slack, "change.approve")
    submit_view(bot, "U0ALICE", "change.approve", {"reason": text("Needed")}, approve["private_metadata"])
    dms(slack, "U0ERIN", "now has tracker issue LOCAL-1")
    SlackUser(bot.url, slack, "U0ALICE").command("/isms", "ticket LOCAL-1 done TDE on")
    question = dms(slack, "U0OLGA", "Does it work as intended?")
    assert ref in question[0]

    # the requester is not the verifier; the asset owner is
    refused = SlackUser(bot.url, slack, "U0ERIN").reply_text(click(bot, slack, "U0ERIN", "change.verify", ref))
    assert refused.startswith("Sorry, the verification of CHG-2026-0001 is for")
    SlackUser(bot.url, slack, "U0OLGA").reply_text(click(bot, slack, "U0OLGA", "change.verify", ref))
    assert change(bot.runtime.ctx, ref).state == "verified"


def test_an_unknown_or_stale_element_is_refused_on_the_field_and_nothing_is_stored(bot, slack, db_url, tmp_path):
    registers(db_url, tmp_path)
    SlackUser(bot.url, slack, "U0DORA").command("/isms", "change")
    metadata = opened_modal(slack, "change.request")["private_metadata"]

    for value in ("asset:AS-999", "made-up", "risk:R-002"):  # R-002 exists but is Erin's, not Dora's to pick
        status, body = submit_view(bot, "U0DORA", "change.request", request_values(element=picked(value)), metadata)
        assert status == 200
        assert json.loads(body) == {
            "response_action": "errors",
            "errors": {"element": "That element is not in the registers (any more); search for it again."},
        }
    both = request_values(element=picked("asset:AS-001"), element_other=text("the access control policy"))
    status, body = submit_view(bot, "U0DORA", "change.request", both, metadata)
    assert json.loads(body)["errors"] == {
        "element_other": "Pick an element from the registers or name another one, not both."
    }
    assert changes_stored(bot) == 0

    # an element no register holds is free text, and the requester verifies it
    other = request_values(element_other=text("the   access control policy"))
    assert submit_view(bot, "U0DORA", "change.request", other, metadata) == (200, "")
    dms(slack, "U0DORA", "Your request for change")
    stored = change(bot.runtime.ctx, "CHG-2026-0001")
    assert (stored.element, stored.verifier) == ("the access control policy", "dora")


def test_the_console_offers_matches_and_accepts_a_typed_reference(settings, clock, db_url, tmp_path):
    registers(db_url, tmp_path)
    form = ["Encrypt the customer database", "Turn on storage encryption", "Audit finding"]
    rest = ["", "Enable TDE", "Disable TDE", "", ""]
    console, output = scripted(
        [
            "/isms change",
            *form,
            "unknown words",  # nothing matches: asked again
            "customer",
            "1",
            *rest,
            "/isms change",
            *form,
            "asset:AS-999",  # taken as typed, refused by the form's check, asked again
            *rest,
            "asset:AS-001",
            "/quit",
        ]
    )
    runtime = build_runtime(settings, console.deliver, clock=clock)
    console.attach(runtime, "erin@example.org")

    console.run()

    said = "\n".join(output)
    assert "    Nothing matches; try other words." in said
    assert "    1. AS-003 · Customer database (asset, owner Olga Ortiz)" in said
    assert "risk:R-001" not in said and "Laptop with customer data stolen" not in said  # Olga's risk
    assert "  ! Affected element (from the registers): That element is not in the registers (any more)" in said
    first, second = change(runtime.ctx, "CHG-2026-0001"), change(runtime.ctx, "CHG-2026-0002")
    assert (first.element, first.verifier) == ("asset: AS-003 Customer database", "olga")
    assert (second.element, second.verifier) == ("asset: AS-001 Staff laptops", "olga")
    runtime.engine.dispose()
