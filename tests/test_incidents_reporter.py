"""For the reporter: reserved words after ``/incident`` answer as commands, advice per category right
after reporting, and "Withdraw" while nobody has triaged the report (what the person reads)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import yaml

from config.settings import PACKAGED_EXAMPLE_ORG
from tests.world import World, fresh_key, make_world, report_values, text_of
from workflows.incidents.forms import REPORT
from workflows.incidents.messages import CLASSIFY, WITHDRAW


@pytest.fixture
def world(settings, clock) -> Iterator[World]:
    world = make_world(settings, clock)
    yield world
    world.close()


def shown(outcome) -> str:  # type: ignore[no-untyped-def]
    assert outcome.reply is not None
    return "\n".join([text_of(outcome.reply), *(b.label for b in outcome.reply.buttons)])


def incident_count(world: World) -> int:
    return len(world.records("reported", "INC"))


@pytest.mark.parametrize("word", ["help", "HELP", "mine", "list", "status", " list "])
def test_reserved_words_answer_as_commands_and_file_nothing(world, word):
    outcome = world.command("erin", word, name="/incident")
    assert outcome.reply is not None and "Your report is" not in outcome.reply.text
    assert incident_count(world) == 0
    assert world.records("access-denied") == []


def test_incident_help_lists_what_the_command_does(world):
    text = shown(world.command("erin", "help", name="/incident"))
    assert text.startswith("Reporting security incidents")
    assert "/incident mine: your reports and their status" in text
    assert "/incident <what happened>: report it in one line" in text


def test_list_shows_an_employee_their_own_reports_without_a_warning(world):
    world.command("erin", "My laptop was stolen on the train", name="/incident")
    text = shown(world.command("erin", "list", name="/incident"))
    assert "Your incident reports (1)" in text and "My laptop was stolen" in text
    assert "recorded" not in text and "Sorry" not in text
    assert world.records("access-denied") == []


def test_list_shows_the_security_team_every_open_incident(world):
    world.command("erin", "My laptop was stolen on the train", name="/incident")
    text = shown(world.command("sam", "list", name="/incident"))
    assert "1 open incident," in text and "INC-2026-0001" in text
    assert "reported just now" in text and "0 min ago" not in text and "(s)" not in text


def test_a_sentence_starting_with_a_reserved_word_is_still_a_report(world):
    text = shown(world.command("erin", "help, somebody is logged in as me", name="/incident"))
    assert "Your report is INC-2026-0001" in text


def test_advice_for_the_category_comes_with_the_receipt(world):
    outcome = world.fill("erin", REPORT, report_values(category="phishing"), "")
    text = shown(outcome)
    assert "Your report is INC-2026-0001" in text
    assert "What to do now: Do not click any more links in that mail" in text
    assert "change it now" in text
    assert [b.action_id for b in outcome.reply.buttons] == [WITHDRAW]


def test_no_advice_where_the_category_has_none(world):
    text = shown(world.fill("erin", REPORT, report_values(category="physical"), ""))
    assert "What to do now" not in text


def test_the_organisation_writes_its_own_advice(settings, clock, tmp_path):
    org = yaml.safe_load(PACKAGED_EXAMPLE_ORG.read_text())
    org["incidents"]["advice"] = {"physical": "Close the door & tell <reception>."}
    path = tmp_path / "org.yaml"
    path.write_text(yaml.safe_dump(org))
    world = make_world(settings, clock, path)
    try:
        assert "What to do now: Close the door & tell <reception>." in shown(
            world.fill("erin", REPORT, report_values(category="physical"), "")
        )
        assert "What to do now" not in shown(world.fill("erin", REPORT, report_values(category="phishing"), ""))
    finally:
        world.close()


def test_the_reporter_withdraws_an_untriaged_report(world):
    world.command("erin", "I think I clicked a bad link", name="/incident")
    text = shown(world.press("erin", WITHDRAW, "INC-2026-0001"))
    assert text == "You withdrew INC-2026-0001. The security team can see that you did."
    assert world.incident("INC-2026-0001").status == "withdrawn"
    assert [(a, action) for a, action, _, _ in world.records("withdrawn", "INC")] == [("erin", "withdrawn")]
    post = world.chat.triage_posts("INC-2026-0001")[-1]
    assert "Withdrawn by the reporter" in post.text and [b.label for b in post.message.buttons] == ["Add note"]
    assert "Erin Evans withdrew the report." in world.chat.thread("INC-2026-0001")
    # no triage reminder for a withdrawn report
    assert world.at(world.clock() + timedelta(days=2)) == []


def test_withdrawing_twice_or_after_triage_is_refused_politely(world):
    world.command("erin", "I think I clicked a bad link", name="/incident")
    world.command("erin", "And another one", name="/incident")
    world.press("sam", CLASSIFY, "INC-2026-0002")
    assert shown(world.press("erin", WITHDRAW, "INC-2026-0002")) == (
        "INC-2026-0002 can no longer be withdrawn: it is incident, being handled. "
        "Please write to the security team instead."
    )
    world.press("erin", WITHDRAW, "INC-2026-0001")
    again = shown(world.press("erin", WITHDRAW, "INC-2026-0001", key=fresh_key()))
    assert "can no longer be withdrawn: it is withdrawn by the reporter" in again


def test_only_the_reporter_may_withdraw(world):
    world.command("erin", "I think I clicked a bad link", name="/incident")
    assert shown(world.press("sam", WITHDRAW, "INC-2026-0001")) == (
        "Sorry, withdrawing this report is for Erin Evans (the owner) only. This attempt has been recorded."
    )
    assert world.incident("INC-2026-0001").status == "new"
