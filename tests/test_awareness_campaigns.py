"""A training campaign from the form to full completion, with the controlled clock: everybody is
asked, reminded before the due date, reminded after it, their manager told; each person confirms
once, a second press is told it is already done; the lists show completion per department."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from storage.models.awareness import Campaign
from storage.records import verify
from tests.awareness_support import assignments, awareness_org, campaign_values
from tests.world import World, berlin, make_world, text_of
from workflows.common.home import home
from workflows.kernel.ui import Outcome

EVERYBODY = ["alice", "sam", "hana", "erin", "olga", "dora", "aldo", "mia"]
ASK = "Please complete the training “Phishing basics”"


@pytest.fixture
def world(settings, clock, tmp_path) -> Iterator[World]:
    clock.set(berlin(2026, 11, 23, 10, 0))  # a Monday
    world = make_world(settings, clock, awareness_org(tmp_path))
    yield world
    world.close()


def start(world: World, **values: str) -> Outcome:
    form = world.command("alice", "campaign new").form
    assert form is not None and form.callback_id == "awareness.new"
    return world.fill("alice", "awareness.new", campaign_values(**values), form.metadata)


def campaign_count(world: World) -> int:
    with world.ctx.read() as session:
        return session.scalar(select(func.count()).select_from(Campaign)) or 0


def test_the_form_refuses_bad_input_field_by_field_and_stores_nothing(world):
    outcome = start(world, due="2026-11-20", link="javascript:alert(1)", audience_kind="people", audience="")
    assert outcome.errors == {
        "link": "Give a web link starting with https:// (or http://), without spaces.",
        "due": "The due date has passed; pick a later one.",
        "audience": "Name the people, separated by commas (person ids or e-mail addresses).",
    }
    outcome = start(world, audience_kind="department", audience="Finance", due="04.12.2026", title="  ")
    assert outcome.errors == {
        "title": "Please fill in the title.",
        "due": "Give the due date as YYYY-MM-DD.",
        "audience": "I know no department called 'Finance'.",
    }
    outcome = start(world, kind="policy", audience_kind="people", audience="alice, nobody@example.org")
    assert outcome.errors == {
        "version": "A policy acknowledgement names the version people accept.",
        "audience": "Not in the organisation file: nobody@example.org.",
    }
    assert start(world, reminders="a week").errors == {
        "reminders": "Write whole numbers of days separated by commas, e.g. 7, 1."
    }
    assert campaign_count(world) == 0
    assert world.chat.sent == []


def test_only_the_isms_manager_starts_campaigns_and_sees_the_overview(world):
    assert (
        world.command("erin", "campaign new").reply.text
        == "Sorry, starting awareness campaigns is for ISMS manager only."
    )
    refused = world.fill("erin", "awareness.new", campaign_values(), "")
    assert refused.reply.text.startswith("Sorry, starting awareness campaigns is for ISMS manager only.")
    assert campaign_count(world) == 0
    assert world.command("erin", "campaigns").reply.text.startswith("Sorry, the campaign overview is for")
    empty = world.command("alice", "campaigns").reply
    assert empty is not None and dict(empty.fields)["Overall"] == "nobody asked yet"  # not "0 of 0 (100%)"


def test_a_campaign_runs_to_full_completion_with_reminders_and_escalation(world):
    reply = start(world).reply
    assert reply.text == "Campaign AWR-0001 started: the training “Phishing basics”"
    assert dict(reply.fields)["People"] == "8"

    asked = world.chat.to_people()
    assert sorted(to for to, _ in asked) == sorted(EVERYBODY)
    assert {text for _, text in asked} == {ASK}
    ask = world.chat.to("erin")[0]
    assert dict(ask.fields) == {
        "Material": "https://learn.example.org/phishing",
        "Due": "Fri 04 Dec 2026, 17:00 (Europe/Berlin)",
        "Campaign": "AWR-0001",
    }
    assert [(b.action_id, b.label) for b in ask.buttons] == [("awareness.done", "I have completed it")]

    # The App Home lists the open item with its button, until it is done.
    items = [m for m in home(world.ctx, world.actor("hana")).sections if m.text.startswith("To do")]
    assert [(m.text, [b.label for b in m.buttons]) for m in items] == [
        ("To do: the training “Phishing basics”", ["I have completed it"])
    ]

    # Hana confirms at once; a double click (the same request) and a second press both do nothing more.
    hana = world.chat.button("hana", "awareness.done")
    assert world.press("hana", "awareness.done", hana, key="click-1").reply.text.startswith(
        "Thank you: recorded that you have done the training “Phishing basics”"
    )
    assert world.press("hana", "awareness.done", hana, key="click-1").reply.text == "Already recorded; thank you."
    again = world.press("hana", "awareness.done", hana).reply.text
    assert again.startswith("You already confirmed “Phishing basics” on Mon 23 Nov 2026")
    assert again.endswith("It is done; nothing more to do.")
    # Nobody confirms for somebody else.
    assert not [m for m in home(world.ctx, world.actor("hana")).sections if m.text.startswith("To do")]
    refused = world.press("erin", "awareness.done", world.chat.button("sam", "awareness.done")).reply.text
    assert (
        refused == "Sorry, confirming somebody else's campaign item is for Sam Shah (the owner) only. "
        "This attempt has been recorded."
    )

    # Nothing at night or on the weekend; the 7-day reminder on Friday 27 Nov at 09:00.
    assert world.at(berlin(2026, 11, 27, 8, 59)) == []
    reminded = world.at(berlin(2026, 11, 27, 9, 0))
    assert sorted(to for to, _ in reminded) == sorted(set(EVERYBODY) - {"hana"})
    assert {text for _, text in reminded} == {
        "Reminder: please complete the training “Phishing basics” by Fri 04 Dec 2026, 17:00 (Europe/Berlin)"
    }
    for person in ("alice", "sam", "erin", "dora"):
        world.press(person, "awareness.done", world.chat.button(person, "awareness.done"))

    assert [to for to, _ in world.at(berlin(2026, 12, 3, 9, 0))] == ["olga", "aldo", "mia"]  # the day before
    # Due on Friday; the overdue reminder waits for Monday morning (quiet weekend), the escalation for 09:00.
    assert world.at(berlin(2026, 12, 5, 9, 0)) == []
    overdue = world.at(berlin(2026, 12, 7, 8, 0))
    assert overdue == [
        (p, "Overdue by 3 days: please complete the training “Phishing basics”") for p in ("olga", "aldo", "mia")
    ]
    world.press("mia", "awareness.done", world.chat.button("mia", "awareness.done"))
    escalated = world.at(berlin(2026, 12, 7, 9, 0))
    assert escalated == [("mia", "Olga Ortiz has not yet done the training “Phishing basics”")]  # aldo: no manager
    # After the escalation, a reminder a week (until 60 days after the due date).
    assert world.at(berlin(2026, 12, 14, 9, 0)) == [
        (person, "Overdue by 10 days: please complete the training “Phishing basics”") for person in ("olga", "aldo")
    ]

    listed = world.command("alice", "campaigns AWR-0001").reply
    assert listed is not None
    assert dict(listed.fields)["Done"] == "6 of 8 (75%)"
    assert (
        "By department: Management: 3 of 3 (100%); Operations: 1 of 2 (50%); "
        "Security: 2 of 2 (100%); no department: 0 of 1 (0%)." in listed.body
    )
    assert listed.body.endswith("Still missing (2):\nOlga Ortiz (Operations)\nAldo Auer (no department)")

    for person in ("olga", "aldo"):
        world.press(person, "awareness.done", world.chat.button(person, "awareness.done"))
    assert set(assignments(world.ctx).values()) == {"done"}
    assert (
        world.chat.texts("alice")[-1]
        == "Campaign AWR-0001 is complete: all 8 people have done the training “Phishing basics”."
    )
    overview = world.command("alice", "campaigns").reply
    assert overview is not None and dict(overview.fields) == {
        "Campaigns": "1 (0 open)",
        "Overall": "8 of 8 (100%) done",
    }
    assert (
        "AWR-0001 the training “Phishing basics”: 8 of 8 (100%) done, "
        "due Fri 04 Dec 2026, 17:00 (Europe/Berlin), complete" in text_of(overview)
    )

    actions = [(action, data.get("person")) for _, action, _, data in world.records(process="AWR")]
    assert actions[0] == ("campaign-started", None)
    assert actions.count(("asked", "olga")) == 1
    assert [a for a in actions if a[1] == "olga"] == [
        ("asked", "olga"),
        ("reminded", "olga"),
        ("reminded", "olga"),
        ("reminded", "olga"),
        ("escalated", "olga"),
        ("reminded", "olga"),
        ("completed", "olga"),
    ]
    escalation = next(data for _, action, _, data in world.records("escalated", "AWR") if data["person"] == "olga")
    assert escalation == {
        "person": "olga",
        "step": "escalate",
        "manager": "mia",
        "manager_source": "organisation file",
        "by": "chat",
    }
    assert next(data for _, action, _, data in world.records("escalated", "AWR") if data["person"] == "aldo")[
        "note"
    ] == ("nobody to escalate to (no manager known)")
    assert actions[-1] == ("campaign-completed", None)
    with world.ctx.read() as session:
        assert verify(session).ok


def test_a_late_start_skips_reminders_already_past_and_the_status_shows_the_campaign(world):
    start(world, due="2026-11-25", audience_kind="role", audience="owner", reminders="7, 1")
    assert sorted(to for to, _ in world.chat.to_people()) == ["erin", "olga"]
    assert [to for to, _ in world.at(berlin(2026, 11, 24, 9, 0))] == ["erin", "olga"]  # only the 1-day reminder
    status = world.command("alice", "status").reply
    assert status is not None
    assert "Awareness: 1 open campaign: 0 of 2 (0%) done" in text_of(status)


def test_a_manager_gets_one_note_about_everybody_of_theirs_who_is_late(world):
    start(world)
    # Nobody confirmed and no tick ran since the start: only the latest step due, the escalation, is taken.
    escalated = world.at(berlin(2026, 12, 7, 9, 0))
    assert sorted(escalated) == [
        ("alice", "Sam Shah has not yet done the training “Phishing basics”"),
        ("mia", "3 people you manage have not yet done the training “Phishing basics”"),
        ("olga", "Erin Evans has not yet done the training “Phishing basics”"),
        ("sam", "Hana Hart has not yet done the training “Phishing basics”"),
    ]
    note = world.chat.to("mia")[-1]
    assert note.body.startswith("Alice Adams, Olga Ortiz, Dora Diaz. It was due Fri 04 Dec 2026, 17:00")
    records = world.records("escalated", "AWR")
    assert sorted((data["person"], data.get("manager")) for _, _, _, data in records) == [
        ("aldo", None),
        ("alice", "mia"),
        ("dora", "mia"),
        ("erin", "olga"),
        ("hana", "sam"),
        ("mia", None),
        ("olga", "mia"),
        ("sam", "alice"),
    ]


def test_a_role_audience_is_named_as_people_read_the_role(world):
    started = start(world, audience_kind="role", audience="isms_manager")
    assert started.reply is not None
    assert dict(started.reply.fields)["Audience"] == "everyone with the role ISMS manager"


def test_a_policy_campaign_is_worded_as_reading_and_accepting_and_names_its_audience(world):
    started = start(
        world, kind="policy", title="Acceptable use", version="2.0", audience_kind="department", audience="Operations"
    )
    assert started.reply is not None
    assert dict(started.reply.fields)["Audience"] == "the Operations department"
    assert started.reply.footer == (
        "Each person gets a direct message now, or when their quiet hours end; /isms campaigns shows progress."
    )
    world.deliver()

    thanks = world.press("erin", "awareness.done", world.chat.button("erin", "awareness.done"))
    assert thanks.reply is not None and thanks.reply.text == (
        "Thank you: recorded that you have read and accepted the policy “Acceptable use”, version 2.0 "
        "on Mon 23 Nov 2026, 10:00 (Europe/Berlin)."
    )
    escalated = world.at(berlin(2026, 12, 7, 9, 0))
    assert ("mia", "Olga Ortiz has not yet read and accepted the policy “Acceptable use”, version 2.0") in escalated


def test_a_campaign_closed_early_reminds_nobody_and_a_late_press_is_told_nothing_more_is_needed(world):
    start(world)
    world.press("hana", "awareness.done", world.chat.button("hana", "awareness.done"))
    assert world.command("erin", "campaign close AWR-0001 Wrong link").reply.text.startswith(
        "Sorry, closing a campaign is for ISMS manager only."
    )
    usage = world.command("alice", "campaign close AWR-0001").reply.text
    assert usage == "Use /isms campaign close AWR-0001 <why it is closed>."
    assert world.command("alice", "campaign close AWR-0099 Wrong link").reply.text == (
        "There is no campaign AWR-0099. /isms campaigns lists them."
    )
    erin = world.chat.button("erin", "awareness.done")
    world.chat.clear()

    closed = world.command("alice", "campaign close AWR-0001 The link pointed at last year's course")

    assert closed.reply.text == (
        "AWR-0001 is closed: 1 of 8 (12%) had confirmed the training “Phishing basics”; "
        "the other 7 get no more reminders."
    )
    statuses = assignments(world.ctx)
    assert statuses["hana"] == "done" and {s for p, s in statuses.items() if p != "hana"} == {"closed"}
    (record,) = world.records("campaign-closed", "AWR")
    assert record[3] == {
        "reason": "The link pointed at last year's course",
        "people": 8,
        "done": 1,
        "not_done": 7,
    }
    assert world.at(berlin(2026, 11, 27, 9, 0)) == []  # the week-before reminder does not come
    assert world.at(berlin(2026, 12, 7, 10, 0)) == []  # nor the overdue one, nor a note to a manager
    late = world.press("erin", "awareness.done", erin).reply.text
    assert late == "“Phishing basics” was closed early by the ISMS manager; nothing more is needed from you."
    assert not [m for m in home(world.ctx, world.actor("erin")).sections if m.text.startswith("To do")]
    overview = text_of(world.command("alice", "campaigns").reply)
    assert "AWR-0001 the training “Phishing basics”: 1 of 8 (12%) done" in overview and "closed early" in overview
    assert "Awareness:" not in text_of(world.command("alice", "status").reply)  # no open campaign left
    again = world.command("alice", "campaign close AWR-0001 twice").reply.text
    assert again.startswith("AWR-0001 has already ended (Mon 23 Nov 2026")
