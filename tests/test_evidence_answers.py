"""The owner answers in place (evidence, not applicable, delegate, snooze) and the ISMS manager accepts
or rejects; bad input is refused on its field and stores nothing; a stale button says what happened."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from bot.console import Console
from bot.slack.blocks import modal
from storage.models import EvidenceFile, EvidenceSubmission, OutboxEffect
from tests.world import EVIDENCE, World, berlin, programme_world, text_of
from workflows.common.home import home

RISK_REVIEW = [{"activity": "RA/risk-review"}]
PERIOD = {"covers_from": "2026-10-01", "covers_to": "2026-12-31"}


@pytest.fixture
def world(settings, clock, tmp_path) -> Iterator[World]:
    world = programme_world(settings, clock, tmp_path, RISK_REVIEW)
    world.at(berlin(2026, 12, 17, 17, 0))  # olga is asked for the Q4 risk review
    clock.set(berlin(2026, 12, 18, 10, 0))
    yield world
    world.runtime.engine.dispose()


def submit(world: World, person: str = "olga", **values: str):  # type: ignore[no-untyped-def]
    opened = world.press(person, "evidence.submit", world.chat.button("olga", "evidence.submit"))
    assert opened.form is not None, opened.reply
    return world.fill(person, opened.form.callback_id, {"files": "[]", **PERIOD, **values}, opened.form.metadata)


def review(world: World, accept: bool, **values: str):  # type: ignore[no-untyped-def]
    button = "evidence.accept" if accept else "evidence.reject"
    opened = world.press("alice", button, world.chat.button("alice", button))
    assert opened.form is not None, opened.reply
    return world.fill("alice", opened.form.callback_id, values, opened.form.metadata)


def count(world: World, model: type) -> int:
    with world.ctx.read() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_owner_submits_and_the_isms_manager_accepts(world):
    form = world.press("olga", "evidence.submit", "1").form
    assert form is not None
    assert [(f.name, f.kind, f.initial) for f in form.fields] == [
        ("text", "multiline", None),
        ("link", "url", None),
        ("files", "files", None),
        ("covers_from", "date", "2026-10-01"),
        ("covers_to", "date", "2026-12-31"),
    ]

    done = submit(
        world,
        text="Reviewed all 14 risks with the owners; two re-rated.",
        link="https://wiki.example.org/risk-review-q4",
    )

    assert done.reply is not None and done.reply.text.startswith("Thank you. Your evidence for EV-1")
    assert world.request().status == "submitted"
    to_review = world.chat.to("alice")[-1]
    assert to_review.text == "Evidence to review from Olga Ortiz: Review the risks you own"
    assert dict(to_review.fields) == {
        "Due": "Thu 31 Dec 2026, 17:00 (Europe/Berlin)",
        "Reference": "EV-1",
        "Owner": "Olga Ortiz",
        "Covers": "2026-10-01 to 2026-12-31",
        "Evidence": "Reviewed all 14 risks with the owners; two re-rated.",
        "Link": "https://wiki.example.org/risk-review-q4",
    }
    assert [b.label for b in to_review.buttons] == ["Accept", "Reject"]
    assert world.at(berlin(2026, 12, 24)) == []  # answered: no more reminders

    accepted = review(world, accept=True, comment="Thorough, thanks.")

    assert accepted.reply is not None and accepted.reply.text == "EV-1 (Review the risks you own) accepted."
    assert world.request().status == "accepted"
    told = world.chat.to("olga")[-1]
    assert (told.text, told.body) == (
        "Accepted: your evidence for Review the risks you own",
        "Alice Adams says: Thorough, thanks.",
    )
    assert [(actor, action) for actor, action, _, _ in world.records(subjects=EVIDENCE)] == [
        ("system", "asked"),
        ("olga", "submitted"),
        ("alice", "accepted"),
    ]
    submitted = world.records("submitted", subjects=EVIDENCE)[0][3]
    assert submitted["covers_from"] == "2026-10-01" and submitted["link"] == "https://wiki.example.org/risk-review-q4"


def test_rejection_reopens_with_a_new_due_date_and_tells_the_owner_why(world):
    submit(world, text="Done.")
    opened = world.press("alice", "evidence.reject", world.chat.button("alice", "evidence.reject")).form
    assert opened is not None
    assert dict((f.name, f.initial) for f in opened.fields)["due"] == "2026-12-25"  # today + 7 days
    assert world.fill("alice", opened.callback_id, {"comment": "", "due": "2026-12-18"}, opened.metadata).errors == {
        "comment": "Tell the owner what is missing or wrong, so they can fix it.",
        "due": "The new due date must be after today.",
    }

    rejected = world.fill(
        "alice",
        opened.callback_id,
        {"comment": "Which risks changed? Attach the updated register.", "due": "2027-01-08"},
        opened.metadata,
    )

    assert rejected.reply is not None and "rejected; the owner has been told why" in rejected.reply.text
    request = world.request()
    assert (request.status, request.round, request.due_at) == ("open", 1, berlin(2027, 1, 8, 17, 0))
    told = world.chat.to("olga")[-1]
    assert told.text == "Please answer again: your evidence for Review the risks you own was not accepted"
    assert "Alice Adams says: Which risks changed? Attach the updated register." in told.body
    assert "the new due date is Fri 08 Jan 2027, 17:00 (Europe/Berlin)" in told.body
    assert told.buttons[0].action_id == "evidence.submit"
    overview = world.command("alice", "evidence all").reply
    assert overview is not None and "EV-1 Review the risks you own (2026-Q4), Olga Ortiz" in overview.body
    assert "rejected, rejected 1x" in overview.body
    # The ladder starts again from the new due date: 7 days before is Friday 1 January.
    assert world.at(berlin(2027, 1, 1)) == [("olga", "Reminder: Review the risks you own is due in 7 days")]
    submit(world, text="Updated register attached.", link="https://wiki.example.org/register-v2")
    assert world.chat.texts("alice")[-1] == "Evidence to review from Olga Ortiz: Review the risks you own"
    assert [action for _, action, _, _ in world.records(subjects=EVIDENCE)] == [
        "asked",
        "submitted",
        "rejected",
        "reminded",
        "submitted",
    ]
    assert world.records("rejected", subjects=EVIDENCE)[0][3]["new_due"] == "2027-01-08T16:00:00+00:00"


def test_not_applicable_needs_a_reason_and_is_reviewed_too(world):
    form = world.press("olga", "evidence.not_applicable", "1").form
    assert form is not None
    assert world.fill("olga", form.callback_id, {"reason": "   "}, form.metadata).errors == {
        "reason": "Please say why it does not apply; the ISMS manager and auditors will read it."
    }
    assert count(world, EvidenceSubmission) == 0

    world.fill("olga", form.callback_id, {"reason": "No risks were in scope this quarter."}, form.metadata)

    to_review = world.chat.to("alice")[-1]
    assert to_review.text == "Not applicable, says Olga Ortiz: Review the risks you own"
    assert "Their reason: No risks were in scope this quarter." in to_review.body
    review(world, accept=True, comment="")
    assert world.request().status == "not_applicable"
    assert world.chat.texts("olga")[-1] == "Accepted: your not-applicable answer for Review the risks you own"
    assert world.records("submitted", subjects=EVIDENCE)[0][3]["not_applicable"] is True


def test_delegation_moves_ownership_and_the_ladder_follows_the_new_owner(world):
    form = world.press("olga", "evidence.delegate", "1").form
    assert form is not None and form.fields[0].kind == "person"
    assert world.fill("olga", form.callback_id, {"person": "U0NOBODY", "note": ""}, form.metadata).errors == {
        "person": "Pick somebody listed in the organisation file; the bot cannot chase anybody else."
    }

    done = world.fill("olga", form.callback_id, {"person": "U0ERIN", "note": "You ran the workshop."}, form.metadata)

    assert done.reply is not None and done.reply.text == (
        "EV-1 (Review the risks you own) now belongs to Erin Evans; they have been told."
    )
    handed = world.chat.to("erin")[-1]
    assert handed.text == "Olga Ortiz handed you an evidence request: Review the risks you own"
    assert "Their note: You ran the workshop." in handed.body and handed.buttons
    assert world.request().owner_id == "erin"
    assert world.at(berlin(2026, 12, 24)) == [("erin", "Reminder: Review the risks you own is due in 7 days")]
    # The ISMS manager hands it on; the previous owner is told by DM this time.
    form = world.press("alice", "evidence.delegate", "1").form
    assert form is not None
    world.fill("alice", form.callback_id, {"person": "hana", "note": ""}, form.metadata)
    assert world.chat.texts("erin")[-1] == (
        'Alice Adams handed your evidence request "Review the risks you own" to Hana Hart'
    )
    assert world.chat.texts("hana")[-1] == "Alice Adams handed you an evidence request: Review the risks you own"
    assert [(d["from"], d["to"]) for _, _, _, d in world.records("delegated", subjects=EVIDENCE)] == [
        ("olga", "erin"),
        ("erin", "hana"),
    ]
    # Hana's manager is Sam: the manager rung reaches him on Monday 4 January.
    assert world.at(berlin(2027, 1, 4, 8, 0)) == [
        ("sam", "Hana Hart has not answered an evidence request for 4 days past its due date")
    ]


def test_snooze_holds_reminders_but_not_the_due_date(world, clock):
    clock.set(berlin(2026, 12, 23, 10, 0))
    snoozed = world.press("olga", "evidence.snooze.3", "1")

    # The answer names the snooze's end and the real next reminder (after the weekend), not one moment
    # as if the snooze's end were when the person hears again (issue 13).
    assert snoozed.reply is not None and snoozed.reply.text == (
        "Snoozed EV-1 for 3 days: no reminders until Sat 26 Dec 2026, 10:00 (Europe/Berlin). "
        "The next reminder is Mon 28 Dec 2026, 08:00 (Europe/Berlin); it is due Thu 31 Dec 2026, 17:00 (Europe/Berlin)."
    )
    assert world.at(berlin(2026, 12, 24)) == []
    assert world.at(berlin(2026, 12, 28, 8, 0)) == [("olga", "Reminder: Review the risks you own is due in 3 days")]
    assert world.records("snoozed", subjects=EVIDENCE)[0][3] == {
        "days": 3,
        "until": "2026-12-26T09:00:00+00:00",
    }
    assert world.request().due_at == berlin(2026, 12, 31, 17, 0)


def test_bad_submissions_are_refused_on_their_field_and_store_nothing(world):
    form = world.press("olga", "evidence.submit", "1").form
    assert form is not None
    meta = json.dumps([{"id": "F0BIG", "name": "scan.pdf", "size": 31 * 1024 * 1024, "mimetype": "application/pdf"}])
    cases = [
        (
            {"text": "", "link": "", "files": "[]", **PERIOD},
            {"text": "Nothing to submit: say what was done, add a link or attach a file."},
        ),
        (
            {"text": "", "link": "javascript:alert(1)", "files": "[]", **PERIOD},
            {"link": "Give a web address starting with http:// or https://."},
        ),
        (
            {"text": "see file", "link": "ftp://files.example.org/x", "files": "[]", **PERIOD},
            {"link": "Give a web address starting with http:// or https://."},
        ),
        (
            {"text": "", "link": "", "files": '["F0BIG"]', "files:meta": meta, **PERIOD},
            {"files": "scan.pdf is 31.0 MB; files may be at most 25 MB."},
        ),
        (
            {"text": "x" * 3001, "link": "", "files": "[]", **PERIOD},
            {"text": "Please keep it under 3000 characters (it has 3001)."},
        ),
        (
            {"text": "ok", "link": "", "files": "[]", "covers_from": "2026-12-31", "covers_to": "2026-10-01"},
            {"covers_to": "The end of the period cannot be before its start."},
        ),
        (
            {"text": "ok", "link": "", "files": "[]", "covers_from": "last quarter", "covers_to": "2026-10-01"},
            {"covers_from": "Give the first day the evidence covers as YYYY-MM-DD."},
        ),
    ]
    for values, errors in cases:
        assert world.fill("olga", form.callback_id, values, form.metadata).errors == errors
    assert count(world, EvidenceSubmission) == 0 and count(world, EvidenceFile) == 0
    assert world.request().status == "open"
    assert world.records("submitted", subjects=EVIDENCE) == []


def test_a_button_on_an_answered_request_says_so_and_a_repeated_form_acts_once(world):
    opened = world.press("olga", "evidence.submit", "1").form
    assert opened is not None
    values = {"text": "Done.", "link": "", "files": "[]", **PERIOD}
    world.fill("olga", opened.callback_id, values, opened.metadata, key="view:V1:h1")
    again = world.fill("olga", opened.callback_id, values, opened.metadata, key="view:V1:h1")
    assert again.reply is not None and again.reply.text == "That was already handled (the click arrived twice)."
    assert count(world, EvidenceSubmission) == 1

    for action in ("evidence.submit", "evidence.not_applicable", "evidence.delegate", "evidence.snooze.1"):
        reply = world.press("olga", action, "1").reply
        assert reply is not None and reply.text == (
            "EV-1 (Review the risks you own) was already answered by Olga Ortiz on Fri 18 Dec 2026, 10:00 "
            "(Europe/Berlin); it is waiting for the ISMS manager's review. Nothing more to do here."
        ), action

    review(world, accept=True, comment="")
    late = world.press("alice", "evidence.reject", world.chat.button("alice", "evidence.reject")).reply
    assert (
        late is not None
        and late.text == "EV-1 was already accepted by Alice Adams on Fri 18 Dec 2026, 10:00 (Europe/Berlin)."
    )
    assert [action for _, action, _, _ in world.records(subjects=EVIDENCE)] == [
        "asked",
        "submitted",
        "accepted",
    ]


def test_only_the_owner_or_the_isms_manager_may_answer_and_only_the_manager_reviews(world):
    refused = world.press("erin", "evidence.submit", "1").reply
    assert refused is not None and refused.text == (
        "Sorry, answering EV-1 is for Olga Ortiz (the owner) or ISMS manager only. This attempt has been recorded."
    )
    submit(world, text="Done.")
    not_a_reviewer = world.press("olga", "evidence.accept", world.chat.button("alice", "evidence.accept")).reply
    assert not_a_reviewer is not None and "reviewing evidence is for ISMS manager only" in not_a_reviewer.text
    denied = world.records("access-denied", subjects=EVIDENCE)
    assert [(actor, data["attempted"]) for actor, _, _, data in denied] == [
        ("erin", "answering EV-1"),
        ("olga", "reviewing evidence"),
    ]
    assert world.press("olga", "evidence.submit", "EV-99").reply.text.startswith("I cannot find")  # type: ignore[union-attr]


def test_evidence_lists_for_the_owner_the_manager_and_the_app_home(world):
    mine = world.command("olga", "evidence").reply
    assert mine is not None
    assert mine.text == "Your evidence requests: 1 to answer, 0 waiting for review"
    assert mine.body == "EV-1 Review the risks you own (RA, 2026-Q4): due Thu 31 Dec 2026, 17:00 (Europe/Berlin), open"
    assert world.command("erin", "evidence").reply.text == "You have no open evidence requests."  # type: ignore[union-attr]
    olga_home = home(world.ctx, world.actor("olga"))
    assert [(s.text, [b.action_id for b in s.buttons][:1]) for s in olga_home.sections[1:]] == [
        (mine.body, ["evidence.submit"])
    ]

    submit(world, text="Done.")
    alice_home = [s.text for s in home(world.ctx, world.actor("alice")).sections]
    assert "To review: EV-1 Review the risks you own from Olga Ortiz" in alice_home
    for person in ("alice", "aldo"):
        overview = world.command(person, "evidence all").reply
        assert overview is not None and overview.text == "1 evidence requests in progress"
        assert dict(overview.fields)["Waiting for review"] == "1"
        assert overview.body.startswith("By process: RA 1\nRA:\n  EV-1 Review the risks you own (2026-Q4), Olga Ortiz")
        assert overview.footer == "Showing 1–1 of 1." and overview.buttons == ()
    refused = world.command("erin", "evidence all").reply
    assert refused is not None and "the evidence overview is for auditor or ISMS manager only" in refused.text


def test_files_are_kept_with_name_and_size_and_queued_for_hashing(world):
    meta = json.dumps([{"id": "F0REPORT", "name": "risk-register.xlsx", "size": 48213, "mimetype": "application/xlsx"}])
    submit(world, files='["F0REPORT"]', **{"files:meta": meta})

    with world.ctx.read() as session:
        file = session.scalars(select(EvidenceFile)).one()
        fetch = session.scalars(select(OutboxEffect).where(OutboxEffect.kind == "slack.file")).one()
    assert (file.slack_file_id, file.name, file.size, file.sha256) == ("F0REPORT", "risk-register.xlsx", 48213, None)
    assert (fetch.key, fetch.payload) == ("evidence-file:1", {"file_id": "F0REPORT", "max_bytes": 25 * 1024 * 1024})
    assert world.records("submitted", subjects=EVIDENCE)[0][3]["files"] == [
        {"slack_file_id": "F0REPORT", "name": "risk-register.xlsx", "size": 48213}
    ]
    assert dict(world.chat.to("alice")[-1].fields)["Files"] == "risk-register.xlsx"


def test_number_and_approval_evidence_ask_for_their_own_fields(settings, clock, tmp_path):
    world = programme_world(
        settings,
        clock,
        tmp_path,
        [{"activity": "PERF/submit-measurement", "owner": "olga"}, {"activity": "RES/budget-review"}],
    )
    world.at(berlin(2026, 12, 24, 17, 0))
    measurement, budget = world.requests()
    assert (measurement.evidence_kind, budget.evidence_kind) == ("number", "approval")
    number_form = world.press("olga", "evidence.submit", str(measurement.id)).form
    approval_form = world.press("olga", "evidence.submit", str(budget.id)).form
    assert number_form is not None and approval_form is not None
    assert number_form.fields[0].name == "number" and approval_form.fields[0].name == "decision"
    base = {"text": "", "link": "", "files": "[]", "covers_from": "2026-12-01", "covers_to": "2026-12-31"}
    assert world.fill(
        "olga", number_form.callback_id, {**base, "number": "about ten"}, number_form.metadata
    ).errors == {"number": "Give a number, e.g. 42 or 97.5."}
    assert world.fill("olga", approval_form.callback_id, {**base, "decision": ""}, approval_form.metadata).errors == {
        "decision": "Choose whether you approve."
    }
    world.fill("olga", number_form.callback_id, {**base, "number": "97,5"}, number_form.metadata)
    world.fill("olga", approval_form.callback_id, {**base, "decision": "approved"}, approval_form.metadata)
    fields = [dict(m.fields) for m in world.chat.to("alice")[-2:]]
    assert (fields[0]["Number"], fields[1]["Decision"]) == ("97.5", "approved")
    assert [text_of(m).splitlines()[0] for m in world.chat.to("alice")[-2:]] == [
        "Evidence to review from Olga Ortiz: Submit a manual measurement",
        "Evidence to review from Olga Ortiz: Review ISMS resource usage against the budget",
    ]
    world.runtime.engine.dispose()


def test_a_snooze_up_to_the_due_date_says_the_next_reminder_comes_then(world, clock):
    clock.set(berlin(2026, 12, 30, 10, 0))
    snoozed = world.press("olga", "evidence.snooze.1", "1")

    assert snoozed.reply is not None and snoozed.reply.text == (
        "Snoozed EV-1 for 1 day: no reminders until Thu 31 Dec 2026, 10:00 (Europe/Berlin). "
        "The next reminder comes on the due date, Thu 31 Dec 2026, 10:00 (Europe/Berlin)."
    )
    assert "hear about it again" not in snoozed.reply.text


def test_the_optional_comment_says_optional_once_in_slack_and_the_console(world):
    submit(world, text="Done.")
    opened = world.press("alice", "evidence.accept", world.chat.button("alice", "evidence.accept"))
    assert opened.form is not None
    prompts: list[str] = []
    console = Console(ask=lambda prompt: prompts.append(prompt) or "", say=lambda line: None)
    for field in opened.form.fields:
        console._prompt(field)
    assert prompts == ["  Comment (optional, Enter to skip): "]  # not "Comment (optional) (optional, ...)"
    block = modal(opened.form)["blocks"][0]  # Slack adds "(optional)" to an optional block itself
    assert block["label"]["text"] == "Comment" and block["optional"] is True
