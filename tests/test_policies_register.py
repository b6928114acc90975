"""A policy version from the form through approval (its author refused as approver), publication in
the reports channel and acknowledgement by its audience; a rejected version; every version kept;
the review date becoming one evidence request for the owner; a version declared in the file."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from storage.models.awareness import Campaign, Policy, PolicyVersion
from storage.models.evidence import EvidenceRequest
from tests.awareness_support import assignments, awareness_org, policy_values
from tests.world import Sent, World, berlin, make_world, text_of
from workflows.kernel.ui import Outcome

PUBLISHED = "Policy published: POL-ACCESS “Access control” version 1.0"


@pytest.fixture
def world(settings, clock, tmp_path) -> Iterator[World]:
    clock.set(berlin(2026, 11, 23, 10, 0))
    world = make_world(settings, clock, awareness_org(tmp_path))
    yield world
    world.close()


def submit(world: World, person: str = "alice", **values: str) -> Outcome:
    form = world.command(person, "policy new").form
    assert form is not None and form.callback_id == "policy.new"
    return world.fill(person, "policy.new", policy_values(**values), form.metadata)


def count(world: World, model: type) -> int:
    with world.ctx.read() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def channel_posts(world: World) -> list[str]:
    return [s.message.text for s in world.chat.sent if s.to == "channel:isms_reports"]


def test_the_form_refuses_bad_input_and_the_author_as_approver(world):
    outcome = submit(
        world,
        approver="alice",
        sha256="not-a-hash",
        next_review="2026-01-01",
        link="intranet/policy",
        policy="access control",
    )
    assert outcome.errors == {
        "policy": "Capital letters, digits and dashes, e.g. POL-ACCESS.",
        "link": "Give a web link starting with https:// (or http://), without spaces.",
        "sha256": "64 hexadecimal characters (the output of sha256sum), or leave it empty.",
        "approver": "You are writing this version, so somebody else must approve it.",
        "next_review": "The next review must be a future date.",
    }
    assert submit(world, files='["F0ONE", "F0TWO"]').errors == {"files": "One document per version, please."}
    assert submit(world, files='["F0ONE"]').errors == {
        "sha256": "Give the document or its SHA-256, not both: the bot computes it from the document."
    }
    assert count(world, Policy) == count(world, PolicyVersion) == 0
    assert world.command("erin", "policy new").form is not None  # owners write policies too
    assert world.command("hana", "policy new").reply.text == (
        "Sorry, writing policy versions is for ISMS manager or owner only."
    )


def test_a_version_is_approved_published_and_acknowledged_and_old_versions_are_kept(world):
    reply = submit(world).reply
    assert reply.text == "POL-ACCESS “Access control” version 1.0 is with Mia Moreau for approval."
    ask = world.chat.to("mia")[-1]
    assert ask.text == "Policy POL-ACCESS “Access control” version 1.0 waits for your approval"
    assert dict(ask.fields)["SHA-256"] == policy_values()["sha256"]
    version_id = world.chat.button("mia", "policy.approve")

    # The author may approve other versions (ISMS manager) but never their own: refused and recorded.
    refused = world.press("alice", "policy.approve", version_id).reply.text
    assert refused == (
        "You wrote version 1.0 of POL-ACCESS, so you cannot approve it: Mia Moreau does. "
        "This attempt has been recorded."
    )
    assert world.press("alice", "policy.reject", version_id).reply.text == refused
    assert world.press("erin", "policy.approve", version_id).reply.text.startswith(
        "Sorry, deciding on policy versions is for Mia Moreau (the owner) or ISMS manager only."
    )
    assert channel_posts(world) == []

    approved = world.press("mia", "policy.approve", version_id).reply.text
    assert approved == (
        "Approved and published: POL-ACCESS “Access control” version 1.0; "
        "campaign AWR-0001 asks its audience to acknowledge it."
    )
    assert channel_posts(world) == [PUBLISHED]
    assert world.chat.texts("alice")[-1] == approved
    again = world.press("mia", "policy.approve", version_id).reply.text
    assert again.startswith("Version 1.0 of POL-ACCESS was already approved by Mia Moreau on Mon 23 Nov 2026")

    world.tick()  # the acknowledgement DMs go out with the scheduler's tick
    ask = world.chat.to("erin")[-1]
    assert ask.text == "Please read and accept the policy “Access control”, version 1.0"
    assert [b.label for b in ask.buttons] == ["I have read and accept it"]
    assert dict(ask.fields)["Due"] == "Mon 07 Dec 2026, 17:00 (Europe/Berlin)"  # 14 days
    assert sorted(assignments(world.ctx)) == ["erin", "olga"]
    world.press("erin", "awareness.done", world.chat.button("erin", "awareness.done"))
    completed = [data for _, _, _, data in world.records("completed", "AWR")]
    assert completed == [{"person": "erin", "kind": "policy", "policy": "POL-ACCESS", "version": "1.0"}]

    # 1.1 is rejected, 2.0 approved: every version stays, each with its decision and campaign.
    submit(world, version="1.1", sha256="")
    world.press("mia", "policy.reject", world.chat.button("mia", "policy.reject"))
    form_value = world.chat.button("mia", "policy.reject")
    outcome = world.fill("mia", "policy.reject", {"reason": " "}, form_value)
    assert outcome.errors == {"reason": "Please fill in the reason."}
    world.fill("mia", "policy.reject", {"reason": "Section 3 contradicts the HR policy."}, form_value)
    assert world.chat.texts("alice")[-1] == "POL-ACCESS “Access control” version 1.1 was rejected by Mia Moreau"
    submit(world, version="2.0", sha256="")
    world.press("mia", "policy.approve", world.chat.button("mia", "policy.approve"))
    assert count(world, Campaign) == 2

    history = world.command("olga", "policies POL-ACCESS").reply
    assert history is not None
    assert dict(history.fields)["Published"] == "2.0"
    lines = history.body.splitlines()
    assert [line.split(":")[0] for line in lines] == ["version 2.0", "version 1.1", "version 1.0"]
    assert lines[1].startswith("version 1.1: rejected by Mia Moreau")
    assert "acknowledged 1 of 2 (50%) (AWR-0001)" in lines[2]
    assert "acknowledged 0 of 2 (0%) (AWR-0002)" in lines[0]
    register = world.command("erin", "policies").reply
    assert register is not None and dict(register.fields) == {
        "Policies": "1",
        "Awaiting approval": "0",
        "Review overdue": "0",
    }
    assert "POL-ACCESS “Access control”: version 2.0, owner Alice Adams, next review 2027-06-30" in text_of(register)

    actions = [action for _, action, _, _ in world.records(process="POL")]
    assert actions == [
        "version-submitted",
        "decision-refused",
        "decision-refused",
        "access-denied",
        "version-approved",
        "sent-to-AWR",
        "published",
        "version-submitted",
        "version-rejected",
        "version-submitted",
        "version-approved",
        "sent-to-AWR",
        "published",
    ]


def test_the_review_date_asks_the_owner_once_through_the_evidence_engine(world):
    submit(world, owner="olga", approver="mia", next_review="2027-02-15")
    world.press("mia", "policy.approve", world.chat.button("mia", "policy.approve"))
    review = "Evidence needed: Review the policy Access control (version 1.0)"
    world.at(berlin(2027, 1, 15, 9, 0))  # 31 days before
    world.tick()
    assert review not in world.chat.texts("olga")
    world.at(berlin(2027, 1, 18, 9, 0))  # a Monday, within 30 days: the request, asked at the next tick
    world.tick()
    assert world.chat.texts("olga").count(review) == 1
    world.at(berlin(2027, 1, 19, 9, 0))
    with world.ctx.read() as session:
        requests = list(session.scalars(select(EvidenceRequest)))
    assert [(r.process, r.owner_id, r.period, r.activity_key) for r in requests] == [
        ("POL", "olga", "2027-02-15", "POL/review-pol-access")
    ]
    status = world.command("alice", "status").reply
    assert status is not None
    assert "Policies: 1 policy, 0 versions awaiting approval, 1 review due within 30 days (0 overdue)" in text_of(
        status
    )


def test_a_version_in_the_organisation_file_is_hashed_and_sent_to_its_approver(settings, clock, tmp_path):
    document = tmp_path / "acceptable-use-3.pdf"
    document.write_bytes(b"%PDF-1.7 acceptable use, version 3")
    entry = {
        "id": "POL-AUP",
        "title": "Acceptable use",
        "owner": "olga",
        "approver": "alice",
        "version": "3",
        "link": "https://intranet.example.org/aup-3.pdf",
        "file": str(document),
        "next_review": "2027-11-01",
        "audience": "everyone",
    }
    world = make_world(settings, clock, awareness_org(tmp_path, policies=[entry]))
    try:
        world.tick()
        world.tick()
        assert world.chat.texts("alice") == ["Policy POL-AUP “Acceptable use” version 3 waits for your approval"]
        with world.ctx.read() as session:
            version = session.scalar(select(PolicyVersion))
        assert version is not None and (version.author, version.sha256) == (
            "olga",
            hashlib.sha256(document.read_bytes()).hexdigest(),
        )
        world.press("alice", "policy.approve", world.chat.button("alice", "policy.approve"))
        world.tick()
        assert len(assignments(world.ctx)) == 8
    finally:
        world.close()


def test_only_the_policy_owner_or_an_isms_manager_writes_its_next_version(world):
    assert submit(world, owner="erin").reply is not None  # Alice adds POL-ACCESS, owned by Erin

    olga = submit(world, "olga", version="1.1", approver="alice")

    assert olga.errors == {
        "policy": "POL-ACCESS is owned by Erin Evans: they or an ISMS manager write its new versions. "
        "A new id adds a policy of yours."
    }
    assert count(world, PolicyVersion) == 1
    with world.ctx.read() as session:
        policy = session.get(Policy, "POL-ACCESS")
        assert policy is not None and (policy.owner_id, policy.approver_id) == ("erin", "mia")
    erin = submit(world, "erin", version="1.1", approver="alice").reply
    assert erin is not None and erin.text == "POL-ACCESS “Access control” version 1.1 is with Alice Adams for approval."
    backup = submit(world, "olga", policy="POL-BACKUP", title="Backup", approver="alice").reply
    assert backup is not None and backup.text == "POL-BACKUP “Backup” version 1.0 is with Alice Adams for approval."
    assert count(world, PolicyVersion) == 3


def decided_request(world: World, version_id: str) -> Sent:
    """What the approver's request for ``version_id`` was turned into once decided (one update)."""
    updates = [s for s in world.chat.sent if s.replaces == f"pol:{version_id}:approval"]
    assert len(updates) == 1, updates
    return updates[0]


def policy_details(world: World) -> tuple[str, str, str, str, str, str | None]:
    with world.ctx.read() as session:
        p = session.get(Policy, "POL-ACCESS")
        assert p is not None
        return p.title, p.owner_id, p.approver_id, p.audience, p.next_review.isoformat(), p.version


APPROVED_DETAILS = ("Access control", "alice", "mia", "role:owner", "2027-06-30", "1.0")
PROPOSED = {"title": "Access rules", "owner": "olga", "next_review": "2027-03-31", "audience_kind": "everyone"}


def test_a_version_changes_the_policy_only_once_approved_and_the_request_shows_the_decision(world):
    submit(world)
    first = world.chat.button("mia", "policy.approve")
    world.press("mia", "policy.approve", first)
    approved = decided_request(world, first)
    assert approved.to == "person:mia"
    assert approved.message.text == "Approved and published: policy POL-ACCESS “Access control” version 1.0"
    assert dict(approved.message.fields) == {"Decided by": "Mia Moreau", "On": "Mon 23 Nov 2026, 10:00 (Europe/Berlin)"}
    assert approved.message.buttons == ()
    assert policy_details(world) == APPROVED_DETAILS

    # 1.1 proposes another title, owner, audience and review date: the register keeps the approved ones.
    submit(world, version="1.1", sha256="", **PROPOSED)
    ask = world.chat.to("mia")[-1]
    assert ask.text == "Policy POL-ACCESS “Access rules” version 1.1 waits for your approval"
    changes = (
        "title “Access rules” (now “Access control”); owner Olga Ortiz (now Alice Adams); "
        "audience everyone (now everyone with the role owner); next review 2027-03-31 (now 2027-06-30)"
    )
    assert ask.body == f"Approving it also changes the policy's {changes}."
    assert policy_details(world) == APPROVED_DETAILS
    register = text_of(world.command("erin", "policies").reply)
    assert (
        "POL-ACCESS “Access control”: version 1.0, owner Alice Adams, next review 2027-06-30, "
        "acknowledged 0 of 2 (0%) (AWR-0001); awaiting approval: 1.1 (would change title, owner, audience, next review)"
    ) in register
    history = world.command("olga", "policies POL-ACCESS").reply
    assert history is not None
    assert dict(history.fields) == {
        "Published": "1.0",
        "Owner": "Alice Adams",
        "Approver": "Mia Moreau",
        "Next review": "2027-06-30",
    }
    assert (
        history.body.splitlines()[0]
        == f"version 1.1: pending with Mia Moreau, proposes {changes}; written by Alice Adams"
    )

    # Rejected: nothing of it reaches the policy; Mia's request now says who rejected it and why.
    second = world.chat.button("mia", "policy.reject")
    world.fill("mia", "policy.reject", {"reason": "Olga is not the owner <yet>."}, second)
    assert policy_details(world) == APPROVED_DETAILS
    rejected = decided_request(world, second).message
    assert (rejected.text, rejected.body, rejected.buttons) == (
        "Rejected: policy POL-ACCESS “Access rules” version 1.1",
        "Olga is not the owner <yet>.",
        (),
    )
    assert dict(rejected.fields)["Decided by"] == "Mia Moreau"
    assert "awaiting approval" not in text_of(world.command("erin", "policies").reply)

    # Approved: the policy takes the proposed details, and what changed is recorded.
    submit(world, version="2.0", sha256="", **PROPOSED)
    third = world.chat.button("mia", "policy.approve")
    world.press("mia", "policy.approve", third)
    assert policy_details(world) == ("Access rules", "olga", "mia", "everyone", "2027-03-31", "2.0")
    assert decided_request(world, third).message.text == (
        "Approved and published: policy POL-ACCESS “Access rules” version 2.0"
    )
    assert [data["changed"] for _, action, _, data in world.records(process="POL") if action == "version-approved"] == [
        {},
        {
            "title": ["Access control", "Access rules"],
            "owner_id": ["alice", "olga"],
            "audience": ["role:owner", "everyone"],
            "next_review": ["2027-06-30", "2027-03-31"],
        },
    ]
    register = text_of(world.command("erin", "policies").reply)
    assert "POL-ACCESS “Access rules”: version 2.0, owner Olga Ortiz, next review 2027-03-31" in register
