"""Management reviews (GOV) through the router Slack and the console share, on the controlled clock:
the planned review from the organisation file, its input pack assembled once at the right time with
every input of ISO/IEC 27001:2022 clause 9.3 (data where the store has it, a "no data" line where it
does not), decisions whose actions become change requests, and their state in the next pack."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from config.errors import ConfigError
from config.organisation import load_organisation
from config.settings import PACKAGED_EXAMPLE_ORG
from storage.models import Change, Review
from tests.support import PROCESS_IDS
from tests.world import World, berlin, change, make_world, report_values
from workflows.kernel.actors import SYSTEM
from workflows.review.service import home_items

INPUT_HEADINGS = (
    "## 9.3.2 a) Status of actions from earlier reviews",
    "## 9.3.2 b) Changes in external and internal issues",
    "## 9.3.2 c) Changes in needs and expectations of interested parties",
    "## 9.3.2 d) 1) Nonconformities and corrective actions",
    "## 9.3.2 d) 2) Monitoring and measurement results",
    "## 9.3.2 d) 3) Audit results",
    "## 9.3.2 d) 4) Fulfilment of information security objectives",
    "## 9.3.2 e) Feedback from interested parties",
    "## 9.3.2 f) Risk assessment results and risk treatment status",
    "## 9.3.2 g) Opportunities for continual improvement",
    "## Incidents",
    "## Changes",
    "## Evidence still missing after every reminder",
)


def review_org(tmp_path: Path, **reviews: Any) -> Path:
    """The example organisation with a yearly review on 15 March at 10:00, chaired by Mia, no evidence
    programme (its DMs are not what these tests read), Sam as second reviewer, and one objective."""
    org = yaml.safe_load(PACKAGED_EXAMPLE_ORG.read_text(encoding="utf-8"))
    org["activities"]["programme"] = []
    org["second_reviewer"] = "sam"
    org["metrics"] = {"thresholds": {"chg.lead_time.median": {"max": 30}}}
    org["reviews"] = {
        "first": "2027-03-15 10:00",
        "every_months": 12,
        "chair": "mia",
        "attendees": ["alice", "olga", "sam"],
        "pack_days_before": 7,
        "location": "Board room, 3rd floor",
        **reviews,
    }
    path = tmp_path / "org-reviews.yaml"
    path.write_text(yaml.safe_dump(org, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def world(settings, clock, tmp_path) -> Iterator[World]:
    world = make_world(settings, clock, review_org(tmp_path))
    yield world
    world.close()


def seed_other_processes(world: World) -> None:
    """What the audit, improvement and risk processes record (their code lives elsewhere), written
    through the unit of work as they write it."""
    with world.ctx.work(SYSTEM) as work:
        work.record("AUD", "audit-planned", ("audit", "AUD-2026-01"), {"title": "Access control audit"})
        work.record(
            "AUD", "finding-raised", ("finding", "FND-1"), {"kind": "major", "clause": "A.5.15", "title": "No reviews"}
        )
        work.record("AUD", "finding-raised", ("finding", "FND-2"), {"kind": "opportunity", "clause": "A.8.7"})
        work.record("AUD", "audit-reported", ("audit", "AUD-2026-01"), {"title": "Access control audit"})
        work.record("IMPR", "suggestion-made", ("suggestion", "IMPR-1"), {"text": "Use passkeys"})
        work.record("RA", "item-changed", ("risk", "R-7"), {"field": "rating", "old": "low", "new": "high"})
        work.record("RT", "risk-accepted", ("risk", "R-9"), {"title": "Legacy VPN"})
    world.deliver()


def report_incident(world: World) -> None:
    outcome = world.fill("erin", "incident.report", report_values(), metadata="")
    assert outcome.reply is not None and "INC-2026-0001" in outcome.reply.text


def request_change(world: World, person: str, title: str) -> None:
    values = {
        "title": title,
        "description": "Laptops encrypt their disks",
        "reason": "Lost laptop",
        "priority": "high",
        "significant": "no",
    }
    world.fill(person, "change.request", values, metadata="CHG:chat")


def reviews(world: World) -> list[Review]:
    with world.ctx.read() as session:
        return list(session.scalars(select(Review).order_by(Review.starts_at)))


def pack_records(world: World) -> list[tuple[str, str, str, dict[str, Any]]]:
    return world.records("pack-assembled", "GOV")


def test_the_planned_review_is_scheduled_once_and_everybody_invited(world, clock):
    world.tick()
    world.tick()

    [review] = reviews(world)
    assert (review.ref, review.chair, review.people) == ("REV-2027-01", "mia", ["mia", "alice", "olga", "sam"])
    assert review.starts_at == berlin(2027, 3, 15, 10, 0)
    assert review.pack_due_at == berlin(2027, 3, 8, 10, 0)
    invited = [to for to, text in world.chat.to_people() if text.startswith("You are invited: Management review")]
    assert invited == ["mia", "alice", "olga", "sam"]
    assert world.chat.to("mia")[0].fields[0] == ("When", "Mon 15 Mar 2027, 10:00 (Europe/Berlin), 120 min")
    [(actor, _, subject, data)] = world.records("review-scheduled", "GOV")
    assert (actor, subject, data["origin"], data["uid"]) == (
        "system",
        "REV-2027-01",
        "schedule",
        "rev-2027-01@isms-bot",
    )


def test_the_pack_is_assembled_once_at_its_time_with_every_input(world, clock):
    world.tick()
    report_incident(world)
    request_change(world, "erin", "Encrypt laptop disks")
    seed_other_processes(world)

    world.at(berlin(2027, 3, 8, 9, 59))
    assert pack_records(world) == []
    sent = world.at(berlin(2027, 3, 8, 10, 0))
    world.at(berlin(2027, 3, 8, 10, 1))

    [(_, _, subject, data)] = pack_records(world)
    assert subject == "REV-2027-01"
    packs = [(to, text) for to, text in sent if text.startswith("Input pack for")]
    assert sorted(to for to, _ in packs) == ["alice", "mia", "olga", "sam"]
    markdown = data["markdown"]
    assert data["sha256"] == hashlib.sha256(markdown.encode()).hexdigest()
    [review] = reviews(world)
    assert (review.state, review.pack_sha256, review.pack_due_at) == ("pack-ready", data["sha256"], None)
    positions = [markdown.index(heading) for heading in INPUT_HEADINGS]
    assert positions == sorted(positions)

    sections = _sections(markdown)
    assert sections["a) Status of actions from earlier reviews"] == ["No actions from earlier reviews."]
    assert sections["b) Changes in external and internal issues"] == [
        "No changes in external or internal issues recorded in the 12 months before this review."
    ]
    assert sections["e) Feedback from interested parties"][0].startswith("No feedback from interested parties")
    assert "1 finding raised" in sections["d) 1) Nonconformities and corrective actions"][0]
    assert "kind major; clause A.5.15" in "\n".join(sections["d) 1) Nonconformities and corrective actions"])
    audits = "\n".join(sections["d) 3) Audit results"])
    assert "1 audit planned, 1 audit reported, 2 findings raised" in audits
    risks = "\n".join(sections["f) Risk assessment results and risk treatment status"])
    assert "risk R-7 changed: field rating; old low; new high" in risks and "risk R-9 accepted" in risks
    # management reads counts in words, first, with no process ids or record kinds
    assert sections["f) Risk assessment results and risk treatment status"][0] == "1 risk accepted, 1 risk changed"
    assert "item-changed" not in risks and "RA " not in risks
    improvement = "\n".join(sections["g) Opportunities for continual improvement"])
    assert "suggestion IMPR-1 made: text Use passkeys" in improvement and "FND-2" in improvement
    assert sections["d) 4) Fulfilment of information security objectives"] == [
        "Change lead time, median: target ≤ 30, no data"
    ]
    incidents = "\n".join(sections["Incidents"])
    assert "Reported 1, closed 0" in incidents and "INC-2026-0001" in incidents
    assert "CHG-2026-0001 waiting for approval: Encrypt laptop disks" in "\n".join(sections["Changes"])
    assert data["inputs"] == {
        "actions": False,
        "issues": False,
        "parties": False,
        "nonconformities": True,
        "measurement": False,
        "audits": True,
        "objectives": True,
        "feedback": False,
        "risks": True,
        "improvement": True,
        "incidents": True,
        "changes": True,
        "evidence": False,
    }
    summary = next(m for m in world.chat.to("mia") if m.text.startswith("Input pack for"))
    assert "○ Changes in external and internal issues: No changes in external or internal issues" in summary.body
    assert [b.label for b in summary.buttons] == ["Record decisions"]
    assert [b.label for m in world.chat.to("olga") if m.text.startswith("Input pack") for b in m.buttons] == []


def _sections(markdown: str) -> dict[str, list[str]]:
    """The pack's sections by heading (the clause prefix dropped), each with its non-empty lines."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in markdown.splitlines():
        if line.startswith("## "):
            current = found.setdefault(line[3:].removeprefix("9.3.2 "), [])
        elif current is not None and line.strip():
            current.append(line.strip())
    return {heading: [line.removeprefix("- ") for line in lines] for heading, lines in found.items()}


def decide(world: World, person: str, actions: str, decisions: str = "Keep the ISMS scope; fund the MFA rollout."):
    return world.fill(person, "review.decide", {"decisions": decisions, "actions": actions}, metadata="REV-2027-01")


def test_decisions_become_changes_whose_state_the_next_pack_shows(world, clock):
    world.tick()
    world.at(berlin(2027, 3, 8, 10, 0))
    early = world.command("alice", "review decide REV-2027-01")
    assert early.reply is not None and "its decisions can be recorded once it has started" in early.reply.text

    assert home(world, "mia") == []
    clock.set(berlin(2027, 3, 15, 12, 0))
    assert (
        home(world, "mia")
        == home(world, "alice")
        == ["Management review REV-2027-01 took place Mon 15 Mar 2027, 10:00 (Europe/Berlin): record what it decided"]
    )
    assert home(world, "olga") == []
    opened = world.press("mia", "review.decide", "REV-2027-01")
    assert opened.form is not None and opened.form.title == "Decisions of REV-2027-01"
    bad = decide(world, "alice", "Roll out MFA; bob; 2027-06-30")
    assert bad.errors == {"actions": "Line 1: bob is not in the organisation file."}
    late = decide(world, "alice", "Roll out MFA; olga; 2027-01-31")
    assert late.errors == {"actions": "Line 1: the due date 2027-01-31 has passed."}
    assert world.records("action-raised", "GOV") == [] and change_refs(world) == []

    done = decide(
        world, "alice", "Roll out MFA to every VPN user; olga; 2027-06-30\nReview supplier contracts; erin; 2027-09-30"
    )
    assert done.reply is not None and done.reply.text == (
        "The decisions of REV-2027-01 are recorded, with 2 actions as change requests."
    )
    again = decide(world, "alice", "Something else; olga; 2027-06-30")
    assert again.reply is not None and again.reply.text == "The decisions of REV-2027-01 were already recorded."
    assert change_refs(world) == ["CHG-2027-0001", "CHG-2027-0002"]
    assert home(world, "mia") == []
    first = change(world.ctx, "CHG-2027-0001")
    assert (first.origin_process, first.origin_ref, first.title) == (
        "GOV",
        "REV-2027-01",
        "Roll out MFA to every VPN user",
    )
    assert [data["change"] for _, _, _, data in world.records("action-raised", "GOV")] == [
        "CHG-2027-0001",
        "CHG-2027-0002",
    ]
    [(_, _, _, decided)] = world.records("review-decided", "GOV")
    assert decided["decisions"] == "Keep the ISMS scope; fund the MFA rollout."
    assert any(text.startswith("Decisions of Management review REV-2027-01") for _, text in world.chat.to_people())

    # Alice requested the changes (she recorded the actions): Sam, the second reviewer, approves one.
    world.fill("sam", "change.approve", {"reason": "Agreed in the review"}, metadata="CHG-2027-0001")
    world.command("alice", "ticket LOCAL-1 done MFA on for all")
    world.press("alice", "change.verify", "CHG-2027-0001")
    assert change(world.ctx, "CHG-2027-0001").state == "verified"
    assert "Action 1 of REV-2027-01 (Roll out MFA to every VPN user) is finished: verified." in world.chat.texts("mia")

    world.tick()  # the next review of the series is scheduled once this one has begun
    status = world.command("alice", "status")
    assert status.reply is not None and "Open review actions: 1" in json.dumps(status.reply.to_dict())
    assert [r.ref for r in reviews(world)] == ["REV-2027-01", "REV-2028-01"]
    world.at(berlin(2028, 3, 8, 10, 0))
    markdown = pack_records(world)[-1][3]["markdown"]
    sections = _sections(markdown)
    assert (
        sections["a) Status of actions from earlier reviews"][0]
        == "2 actions from earlier reviews, 1 verified as done."
    )
    table = "\n".join(sections["a) Status of actions from earlier reviews"])
    assert (
        "| REV-2027-01/1 Roll out MFA to every VPN user | Olga Ortiz | 2027-06-30 | CHG-2027-0001 | Verified |" in table
    )
    assert (
        "| REV-2027-01/2 Review supplier contracts | Erin Evans | 2027-09-30 | CHG-2027-0002 | Waiting for approval |"
        in table
    )
    assert "(previous review REV-2027-01)" in markdown
    measured = "\n".join(sections["d) 2) Monitoring and measurement results"])
    assert "Change lead time, median" in measured


def home(world: World, person: str) -> list[str]:
    return [message.text for message in home_items(world.ctx, world.actor(person))]


def change_refs(world: World) -> list[str]:
    with world.ctx.read() as session:
        return list(session.scalars(select(Change.ref).where(Change.origin_process == "GOV").order_by(Change.ref)))


def test_status_shows_the_next_review_and_open_actions(world, clock):
    world.tick()
    status = world.command("alice", "status")
    assert status.reply is not None
    shown = json.dumps(status.reply.to_dict())
    assert "Open review actions: 0" in shown
    assert "Next management review: REV-2027-01 Mon 15 Mar 2027, 10:00 (Europe/Berlin) (pack due" in shown


def test_two_runtimes_on_one_database_schedule_and_assemble_once(settings, clock, tmp_path):
    org = review_org(tmp_path)
    first, second = make_world(settings, clock, org), make_world(settings, clock, org)
    try:
        for world in (first, second, first):
            world.tick()
        clock.set(berlin(2027, 3, 8, 10, 0))
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda world: world.tick(), (first, second)))
        first.tick()

        assert [r.ref for r in reviews(first)] == ["REV-2027-01"]
        assert len(first.records("review-scheduled", "GOV")) == 1
        assert len(first.records("pack-assembled", "GOV")) == 1
        packs = [
            to for world in (first, second) for to, text in world.chat.to_people() if text.startswith("Input pack for")
        ]
        assert sorted(packs) == ["alice", "mia", "olga", "sam"]
    finally:
        first.close()
        second.close()


@pytest.mark.parametrize(
    ("change", "key", "problem"),
    [
        ({"second_reviewer": "nobody"}, "second_reviewer", "unknown person 'nobody'"),
        ({"reviews": {"chair": "zed"}}, "reviews.chair", "unknown person 'zed'"),
        ({"reviews": {"attendees": ["alice", "zed"]}}, "reviews.attendees.1", "unknown person 'zed'"),
        ({"reviews": {"first": "2027-03-15T10:00:00+01:00"}}, "reviews.first", "without a zone"),
        ({"reviews": {"pack_days_before": 0}}, "reviews.pack_days_before", "greater than or equal to 1"),
    ],
)
def test_a_bad_reviews_section_or_second_reviewer_names_the_key(tmp_path, change, key, problem):
    org = yaml.safe_load(PACKAGED_EXAMPLE_ORG.read_text(encoding="utf-8"))
    org.update(change)
    path = tmp_path / "org.yaml"
    path.write_text(yaml.safe_dump(org, sort_keys=False), encoding="utf-8")

    with pytest.raises(ConfigError) as raised:
        load_organisation(path, PROCESS_IDS)

    assert key in str(raised.value) and problem in str(raised.value)
