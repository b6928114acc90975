"""Internal audit (AUD) through the router both surfaces share, with the controlled clock: planning
(and what is refused), the reminders at their times, the kick-off with evidence requests, a
nonconformity whose corrective action becomes a change and closes the finding once verified, and the
report."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select

from config.settings import PACKAGED_EXAMPLE_ORG
from storage.models import Audit, Finding
from tests.support import FakeClock
from tests.world import World, berlin, change, make_world, text_of
from workflows.common.home import home as home_view

PLAN = {
    "title": "ISMS operations 2026",
    "processes": "INC, CHG",
    "controls": "A.5.24, A.8.32",
    "criteria": "ISO/IEC 27001:2022 clauses 8 and 10; our incident and change procedures",
    "auditors": "aldo",
    "kickoff": "2026-12-07",
    "evidence_due": "2026-12-11",
    "report_due": "2026-12-18",
}
NONCONFORMITY = {
    "audit": "AUD-2026-0001",
    "kind": "minor",
    "clause": "A.8.32",
    "text": "Two emergency changes in October had no approval <!channel> recorded.",
    "root_cause": "The emergency path of the change procedure names no approver.",
    "corrective_action": "Name the security lead as approver of emergency changes.",
}


@pytest.fixture
def world(settings, clock: FakeClock) -> Iterator[World]:
    w = make_world(settings, clock)
    yield w
    w.close()


def plan(world: World, **changes: str) -> Any:
    assert world.command("alice", "audit new").form is not None
    return world.fill("alice", "audit.plan", {**PLAN, **changes}, "")


def audits(world: World) -> int:
    with world.ctx.read() as session:
        return int(session.scalar(select(func.count()).select_from(Audit)) or 0)


def finding(world: World, ref: str) -> Finding:
    with world.ctx.read() as session:
        found = session.scalar(select(Finding).where(Finding.ref == ref))
        assert found is not None
        session.expunge(found)
        return found


def sent_since(world: World, moment: Any) -> list[tuple[str, str]]:
    return world.at(moment)


def test_planning_tells_auditor_and_auditees_and_records_the_plan(world: World) -> None:
    outcome = plan(world)

    assert (
        outcome.reply is not None and outcome.reply.text == "Planned internal audit AUD-2026-0001: ISMS operations 2026"
    )
    (record,) = world.records("audit-planned", "AUD")
    assert record[2] == "AUD-2026-0001"
    assert record[3]["auditors"] == ["aldo"] and record[3]["auditees"] == ["alice", "sam"]
    assert record[3]["processes"] == ["INC", "CHG"] and record[3]["kickoff"] == "2026-12-07"
    aldo = world.chat.to("aldo")[-1]
    assert aldo.text == "You are an auditor of internal audit AUD-2026-0001: ISMS operations 2026"
    assert [b.label for b in aldo.buttons] == ["Record a finding", "Mark reported"]
    assert (
        world.chat.texts("sam")[-1] == "Your process is in scope of internal audit AUD-2026-0001: ISMS operations 2026"
    )
    assert not world.chat.to("sam")[-1].buttons


@pytest.mark.parametrize(
    ("changes", "field", "problem"),
    [
        ({"auditors": "sam"}, "auditors", "sam owns INC, which is in scope: auditors must be independent"),
        ({"auditors": " "}, "auditors", "An audit needs at least one auditor."),
        ({"auditors": "nobody@example.org"}, "auditors", "nobody@example.org is not in the organisation file."),
        ({"kickoff": "2026-11-20"}, "kickoff", "2026-11-20 is in the past; give today or a later date."),
        ({"processes": "INC, XYZ"}, "processes", "Unknown process XYZ"),
        ({"report_due": "2026-12-10"}, "report_due", "The report can only be due on or after the evidence."),
        ({"kickoff": "next monday"}, "kickoff", "Please give a date (YYYY-MM-DD)."),
    ],
)
def test_a_bad_plan_is_refused_on_its_field_and_nothing_is_stored(
    world: World, changes: dict[str, str], field: str, problem: str
) -> None:
    outcome = plan(world, **changes)

    assert outcome.errors is not None and problem in outcome.errors[field]
    assert audits(world) == 0
    assert world.records("audit-planned") == []


def test_only_the_isms_manager_plans_audits(world: World) -> None:
    outcome = world.command("erin", "audit new")

    assert outcome.reply is not None
    assert outcome.reply.text == "Sorry, planning audits is for ISMS manager only. This attempt has been recorded."


def test_reminders_come_at_their_times_and_the_kickoff_asks_the_auditees_for_evidence(world: World) -> None:
    plan(world)
    world.chat.clear()

    assert sent_since(world, berlin(2026, 11, 30, 8, 59)) == []
    week_before = sent_since(world, berlin(2026, 11, 30, 9, 0))
    assert sorted(week_before) == [
        ("aldo", "Reminder: internal audit AUD-2026-0001 starts in 7 days."),
        ("alice", "Reminder: internal audit AUD-2026-0001 starts in 7 days."),
        ("sam", "Reminder: internal audit AUD-2026-0001 starts in 7 days."),
    ]
    # A week before the evidence is due the audit has not started: nobody has a request to answer yet,
    # so there is no evidence reminder.
    assert sent_since(world, berlin(2026, 12, 4, 9, 0)) == []
    # The day before the kick-off is a Sunday: its reminder would move to Monday morning, the kick-off
    # day itself, where the start message says it; so it is not sent.
    assert sent_since(world, berlin(2026, 12, 6, 9, 0)) == []
    assert sent_since(world, berlin(2026, 12, 7, 8, 0)) == []
    kickoff = sent_since(world, berlin(2026, 12, 7, 9, 0))
    assert not any("Reminder" in text for _, text in kickoff)
    assert ("aldo", "Internal audit AUD-2026-0001 starts today: ISMS operations 2026") in kickoff
    assert world.records("audit-started", "AUD")[0][3] == {"evidence_requested_from": ["alice", "sam"]}
    asked = sent_since(world, berlin(2026, 12, 7, 9, 1))
    assert any(to == "sam" and "Evidence for internal audit AUD-2026-0001 (INC)" in text for to, text in asked)
    assert {r.owner_id: r.due_at for r in world.requests()} == {
        "alice": berlin(2026, 12, 11, 17, 0),
        "sam": berlin(2026, 12, 11, 17, 0),
    }
    # Evidence due and the report's week-before reminder fall on the same morning: both go out.
    friday = sent_since(world, berlin(2026, 12, 11, 9, 0))
    assert ("sam", "Reminder: evidence for internal audit AUD-2026-0001 is due today.") in friday
    assert ("aldo", "Reminder: the report of internal audit AUD-2026-0001 is due in 7 days.") in friday
    assert not any(to == "sam" and "report" in text for to, text in friday)
    # A tick again at the same time sends nothing twice.
    assert not [
        m for m in sent_since(world, berlin(2026, 12, 11, 9, 0)) if "AUD-2026-0001" in m[1] and "Reminder" in m[1]
    ]


def test_a_bot_back_only_at_the_kick_off_starts_the_audit_without_a_late_kick_off_reminder(world: World) -> None:
    plan(world)
    world.chat.clear()

    kickoff = world.at(berlin(2026, 12, 7, 10, 0))  # the bot was down for the week's reminders

    assert ("sam", "Internal audit AUD-2026-0001 starts today: ISMS operations 2026") in kickoff
    assert not any(text.startswith("Reminder: internal audit AUD-2026-0001 starts") for _, text in kickoff)
    assert ("aldo", "Reminder: evidence for internal audit AUD-2026-0001 is due in 4 days.") not in kickoff
    assert [r[3]["milestone"] for r in world.records("reminded", "AUD")] == []


def start_audit(world: World) -> None:
    plan(world)
    world.at(berlin(2026, 12, 7, 9, 0))


def record_finding(world: World, kind: str = "minor", **changes: str) -> Any:
    """Aldo records a finding on the running audit; only nonconformities carry a root cause and action."""
    values = {**NONCONFORMITY, "kind": kind, **changes}
    if kind not in ("major", "minor"):
        values |= {"root_cause": "", "corrective_action": ""}
    return world.fill("aldo", "audit.finding", values, "")


def test_a_nonconformity_becomes_a_change_and_closes_when_the_change_is_verified(world: World) -> None:
    start_audit(world)
    assert world.press("aldo", "audit.record_finding", "AUD-2026-0001").form is not None
    missing = world.fill("aldo", "audit.finding", {**NONCONFORMITY, "root_cause": "", "corrective_action": ""}, "")
    assert missing.errors == {
        "root_cause": "Please fill in the root cause.",
        "corrective_action": "Please fill in the corrective action.",
    }

    recorded = world.fill("aldo", "audit.finding", NONCONFORMITY, "")

    assert recorded.reply is not None and recorded.reply.text == "Recorded AUD-2026-0001-F1 (minor nonconformity)."
    assert "corrective action is change CHG-2026-0001" in recorded.reply.body
    (raised,) = world.records("finding-raised", "AUD")
    assert raised[2] == "AUD-2026-0001-F1"
    assert {k: raised[3][k] for k in ("kind", "clause", "audit")} == {
        "kind": "minor",
        "clause": "A.8.32",
        "audit": "AUD-2026-0001",
    }
    requested = change(world.ctx, "CHG-2026-0001")
    assert (requested.origin_process, requested.origin_ref) == ("AUD", "AUD-2026-0001-F1")
    assert requested.description == NONCONFORMITY["corrective_action"]
    told = world.chat.to("sam")[-1]
    assert told.text == "Finding AUD-2026-0001-F1 in audit AUD-2026-0001: minor nonconformity"
    assert "Name the security lead as approver" in text_of(told)

    refused = world.command("aldo", "finding close AUD-2026-0001-F1 done")
    assert refused.reply is not None and refused.reply.text == (
        "AUD-2026-0001-F1 is a nonconformity: it closes only when its corrective action CHG-2026-0001 is "
        "verified (it is waiting for approval)."
    )

    world.press("alice", "change.approve", "CHG-2026-0001")
    world.fill("alice", "change.approve", {"reason": "Needed for the audit"}, "CHG-2026-0001")
    world.command("alice", "ticket LOCAL-1 done Approver named in the procedure")
    assert finding(world, "AUD-2026-0001-F1").change_state == "implemented"
    assert world.press("aldo", "change.verify", "CHG-2026-0001").reply is not None

    closed = finding(world, "AUD-2026-0001-F1")
    assert (closed.state, closed.change_state) == ("closed", "verified")
    assert world.records("finding-closed", "AUD")[0][3] == {
        "audit": "AUD-2026-0001",
        "kind": "minor",
        "clause": "A.8.32",
        "how": "corrective action CHG-2026-0001 verified",
        "change": "CHG-2026-0001",
    }
    assert "Finding AUD-2026-0001-F1 is closed: corrective action CHG-2026-0001 verified" in world.chat.texts("aldo")


def test_only_auditors_record_findings_and_only_while_the_audit_runs(world: World) -> None:
    plan(world)
    early = world.press("aldo", "audit.record_finding", "AUD-2026-0001")
    assert early.reply is not None
    assert early.reply.text == (
        "AUD-2026-0001 has not started yet (kick-off 2026-12-07): "
        "recording findings is possible once it is in progress."
    )
    world.at(berlin(2026, 12, 7, 9, 0))

    stranger = world.press("erin", "audit.record_finding", "AUD-2026-0001")
    assert stranger.reply is not None and stranger.reply.text == (
        "Sorry, recording findings is for Aldo Auer (auditor) only. This attempt has been recorded."
    )
    nothing = world.command("erin", "finding")
    assert nothing.reply is not None and "not an auditor of an audit in progress" in nothing.reply.text
    forged = world.fill("erin", "audit.finding", NONCONFORMITY, "")
    assert forged.reply is not None and "is for Aldo Auer (auditor) only" in forged.reply.text
    with world.ctx.read() as session:
        assert session.scalar(select(func.count()).select_from(Finding)) == 0


def test_an_observation_is_closed_by_its_auditor(world: World) -> None:
    start_audit(world)
    record_finding(world, "observation")

    closed = world.command("aldo", "finding close AUD-2026-0001-F1 Discussed with the change owner")

    assert closed.reply is not None and closed.reply.text == "AUD-2026-0001-F1 is closed."
    assert world.records("finding-closed", "AUD")[0][3]["how"] == "Discussed with the change owner"
    again = world.command("aldo", "finding close AUD-2026-0001-F1")
    assert again.reply is not None and again.reply.text == "AUD-2026-0001-F1 is already closed."


def test_the_report_is_rendered_stored_with_its_hash_and_posted(world: World) -> None:
    start_audit(world)
    record_finding(world)
    record_finding(world, "opportunity", text="Use <b>templates</b> & checklists")

    reply = world.command("aldo", "audit report AUD-2026-0001")
    world.deliver()

    assert reply.reply is not None and reply.reply.text.startswith("AUD-2026-0001 is reported")
    (record,) = world.records("audit-reported", "AUD")
    data = record[3]
    markdown, html = data["markdown"], data["html"]
    assert data["sha256"] == {
        "md": hashlib.sha256(markdown.encode()).hexdigest(),
        "html": hashlib.sha256(html.encode()).hexdigest(),
    }
    assert "AUD-2026-0001-F1" in markdown and "AUD-2026-0001-F2" in markdown
    assert "| Finding | Kind | Clause or control | Text |" in markdown  # headers named for people stay as they are
    assert "Use <b>templates</b> & checklists" in markdown
    assert "Use &lt;b&gt;templates&lt;/b&gt; &amp; checklists" in html and "<b>templates</b>" not in html
    assert "no approval &lt;!channel&gt; recorded" in html
    assert "ISO/IEC 27001:2022 clauses 8 and 10" in markdown and "Aldo Auer" in markdown
    assert data["findings"] == {"major": 0, "minor": 1, "observation": 0, "opportunity": 1}
    headline = "Audit report AUD-2026-0001: ISMS operations 2026"
    assert headline in world.chat.texts("aldo") and headline in world.chat.texts("alice")
    assert ("channel:isms_reports", headline) in [(s.to, s.message.text) for s in world.chat.sent]
    assert world.command("aldo", "audit report AUD-2026-0001").reply.text == "AUD-2026-0001 was already reported."  # type: ignore[union-attr]
    late = world.fill("aldo", "audit.finding", NONCONFORMITY, "")
    assert late.reply is not None and late.reply.text == (
        "AUD-2026-0001 was already reported: findings can no longer be added."
    )


def test_the_programme_lists_audits_with_counts(world: World) -> None:
    plan(world)
    plan(
        world,
        title="Supplier management",
        processes="SUP",
        auditors="alice",
        kickoff="2027-01-11",
        evidence_due="2027-01-15",
        report_due="2027-01-22",
    )

    listed = world.command("erin", "audits")

    assert listed.reply is not None and listed.reply.text == "Audit programme: 2 audits"
    assert ("Planned", "2") in listed.reply.fields
    lines = listed.reply.body.splitlines()
    assert lines[0].startswith("AUD-2026-0001 Planned · ISMS operations 2026 · scope INC, CHG · auditors Aldo Auer")
    assert lines[1].startswith("AUD-2026-0002 Planned · Supplier management")


def test_the_programme_is_paged_with_a_more_button(world: World) -> None:
    for n in range(21):
        plan(world, title=f"Audit {n:02d}")

    first = world.command("mia", "audits").reply
    assert first is not None and first.text == "Audit programme: 21 audits"
    assert len(first.body.splitlines()) == 20 and first.footer == "Showing 1–20 of 21."
    (more,) = first.buttons
    assert (more.action_id, more.label) == ("audit.more", "More (1 left)")

    last = world.press("mia", "audit.more", more.value).reply
    assert last is not None and last.body.startswith("AUD-2026-0021 Planned · Audit 20")
    assert last.footer == "Showing 21–21 of 21."


def org_with_programme(tmp_path: Path, **audit: Any) -> Path:
    org = yaml.safe_load(PACKAGED_EXAMPLE_ORG.read_text(encoding="utf-8"))
    entry = {
        "key": "ops-2026",
        "title": "Operations",
        "processes": ["INC"],
        "criteria": "Incident procedure",
        "auditors": ["aldo"],
        "kickoff": "2026-12-07",
        "evidence_due": "2026-12-11",
        "report_due": "2026-12-18",
        **audit,
    }
    org["audits"] = {"remind_before_days": [7, 1], "programme": [entry]}
    path = tmp_path / "org-audits.yaml"
    path.write_text(yaml.safe_dump(org, sort_keys=False), encoding="utf-8")
    return path


def test_the_programme_in_the_organisation_file_is_planned_once(settings, clock: FakeClock, tmp_path: Path) -> None:
    w = make_world(settings, clock, org_with_programme(tmp_path))
    try:
        w.tick()
        w.tick()
        assert audits(w) == 1
        (record,) = w.records("audit-planned", "AUD")
        assert record[0] == "system" and record[3]["source"] == "organisation file (ops-2026)"
        assert w.chat.texts("aldo")[-1] == "You are an auditor of internal audit AUD-2026-0001: Operations"
    finally:
        w.close()


def test_an_auditor_owning_a_process_in_scope_stops_the_start(settings, clock: FakeClock, tmp_path: Path) -> None:
    from config.errors import ConfigError

    with pytest.raises(ConfigError) as raised:
        make_world(settings, clock, org_with_programme(tmp_path, auditors=["sam"]))
    assert "audits.programme.0.auditors: sam owns INC, which is in scope" in str(raised.value)


def test_the_age_of_open_nonconformities_is_measured_and_shown_in_the_status(world: World) -> None:
    start_audit(world)
    world.fill("aldo", "audit.finding", NONCONFORMITY, "")
    world.clock.set(berlin(2026, 12, 10, 9, 0))
    world.fill("aldo", "audit.finding", {**NONCONFORMITY, "kind": "major"}, "")
    world.fill("aldo", "audit.finding", {**NONCONFORMITY, "kind": "observation"}, "")
    world.clock.set(berlin(2026, 12, 17, 9, 0))

    status = world.command("alice", "status")

    assert status.reply is not None
    shown = text_of(status.reply)
    assert "Open nonconformities: 2" in shown and "Open nonconformities: 2.0" not in shown
    assert "Open nonconformities, oldest: 10.0 d" in shown
    assert "Open nonconformities, median age: 7.0 d" in shown
    assert "Audits: in progress 1" in shown
    assert "Next report due: AUD-2026-0001 on 2026-12-18" in shown
    assert "Open findings: 3, of which 2 nonconformities (oldest 10 days)" in shown
    world.clock.set(berlin(2026, 12, 21, 9, 0))
    late = world.command("alice", "status").reply
    assert late is not None and "Next report due: AUD-2026-0001 on 2026-12-18 (OVERDUE)" in text_of(late)


def test_a_declined_corrective_action_leaves_the_nonconformity_open_and_says_so(world: World) -> None:
    start_audit(world)
    world.fill("aldo", "audit.finding", NONCONFORMITY, "", key="finding-once")
    again = world.fill("aldo", "audit.finding", NONCONFORMITY, "", key="finding-once")  # a Slack retry
    assert again.reply is not None and again.reply.text == "This finding was already recorded."

    world.press("alice", "change.decline", "CHG-2026-0001")
    world.fill("alice", "change.decline", {"reason": "Too costly this year"}, "CHG-2026-0001")

    still = finding(world, "AUD-2026-0001-F1")
    assert (still.state, still.change_state) == ("open", "declined")
    headline = "The corrective action of AUD-2026-0001-F1 ended declined: the finding stays open."
    assert headline in world.chat.texts("aldo") and headline in world.chat.texts("alice")
    assert world.records("corrective-action-ended", "AUD")[0][3] == {"change": "CHG-2026-0001", "state": "declined"}
    refused = world.command("aldo", "finding close AUD-2026-0001-F1")
    assert refused.reply is not None and "(it is declined)" in refused.reply.text
    with world.ctx.read() as session:
        assert session.scalar(select(func.count()).select_from(Finding)) == 1

    # A new corrective action from the message's button; it is verified and the finding closes.
    assert world.chat.button("aldo", "audit.corrective_action") == "AUD-2026-0001-F1"
    stranger = world.press("erin", "audit.corrective_action", "AUD-2026-0001-F1")
    assert stranger.reply is not None and "is for Aldo Auer (auditor) or ISMS manager only" in stranger.reply.text
    form = world.press("aldo", "audit.corrective_action", "AUD-2026-0001-F1").form
    assert form is not None and form.fields[0].initial == NONCONFORMITY["root_cause"]
    redo = world.fill(
        "aldo",
        "audit.corrective_action",
        {"root_cause": NONCONFORMITY["root_cause"], "corrective_action": "Use the existing CAB for emergencies."},
        "AUD-2026-0001-F1",
    )
    assert redo.reply is not None and "corrective action is change CHG-2026-0002" in redo.reply.body
    twice = world.press("aldo", "audit.corrective_action", "AUD-2026-0001-F1")
    assert twice.reply is not None and twice.reply.text == (
        "The corrective action of AUD-2026-0001-F1 (CHG-2026-0002) is still waiting for approval."
    )
    world.press("alice", "change.approve", "CHG-2026-0002")
    world.fill("alice", "change.approve", {"reason": "Cheaper"}, "CHG-2026-0002")
    world.command("alice", "ticket LOCAL-1 done CAB handles emergencies")
    world.press("aldo", "change.verify", "CHG-2026-0002")
    assert finding(world, "AUD-2026-0001-F1").state == "closed"


def test_the_app_home_shows_the_auditor_their_running_audit(world: World) -> None:
    plan(world)
    assert "AUD-2026-0001" not in text_of(world.command("aldo", "home").reply)  # type: ignore[arg-type]
    world.at(berlin(2026, 12, 7, 9, 0))

    home = world.command("aldo", "home").reply

    assert home is not None
    assert "You audit AUD-2026-0001 (in progress, report due Fri 18 Dec 2026): ISMS operations 2026" in text_of(home)
    sections = home_view(world.ctx, world.actor("aldo")).sections
    assert {"Record a finding", "Mark reported"} <= {b.label for section in sections for b in section.buttons}


def test_an_auditor_asks_an_auditee_for_more_evidence_through_the_evidence_engine(world: World) -> None:
    start_audit(world)

    stranger = world.command("aldo", "audit ask AUD-2026-0001 <@U0ERIN|erin> Show the triage log")
    assert stranger.reply is not None and stranger.reply.text == (
        "Erin Evans is not an auditee of AUD-2026-0001 (Alice Adams, Sam Shah)."
    )
    usage = world.command("aldo", "audit ask AUD-2026-0001 sam")
    assert usage.reply is not None and usage.reply.text.startswith("Use /isms audit ask AUD-2026-0001")
    asked = world.command("aldo", "audit ask AUD-2026-0001 <@U0SAM|sam> triage log of October")
    assert asked.reply is not None and asked.reply.text == (
        "Sam Shah is asked for it now; it is due Fri 11 Dec 2026, 17:00 (Europe/Berlin)."
    )
    not_auditor = world.command("alice", "audit ask AUD-2026-0001 sam Anything")
    assert not_auditor.reply is not None and "is for Aldo Auer (auditor) only" in not_auditor.reply.text

    sent = world.at(berlin(2026, 12, 7, 10, 0))

    assert any(to == "sam" and "AUD-2026-0001: triage log of October" in text for to, text in sent)
    assert world.records("evidence-asked", "AUD")[0][3] == {"auditee": "sam", "what": "triage log of October"}
