"""Owners keep their registers current on the controlled clock: reviews become evidence requests
through the evidence engine (risks by their next review, requirements by their next check, suppliers
by criticality after their last review), and a contract ending within the notice period tells the
supplier's owner, once per date."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from config.settings import PACKAGED_EXAMPLE_ORG
from storage.models import EvidenceRequest, OutboxEffect
from tests.world import BERLIN, World, berlin, make_world, text_of
from workflows.registers.flows import import_file
from workflows.registers.kinds import KINDS

EXAMPLES = Path(__file__).parent.parent / "config" / "examples"


@pytest.fixture
def world(settings, clock) -> Iterator[World]:
    world = make_world(settings, clock)
    for kind, name in (("supplier", "suppliers"), ("requirement", "requirements"), ("risk", "risks")):
        import_file(world.ctx, KINDS[kind], EXAMPLES / f"{name}.csv")
    yield world
    world.close()


def review_requests(world: World) -> list[tuple[str, str, str, str]]:
    with world.ctx.read() as session:
        rows = session.scalars(select(EvidenceRequest).where(EvidenceRequest.activity_key.contains("-review:")))
        return [(r.activity_key, r.owner_id, r.title, r.due_at.astimezone(BERLIN).isoformat()) for r in rows]


def contract_notes(world: World, person: str) -> list[str]:
    return [text_of(m) for m in world.chat.to(person) if m.text.startswith("The contract with")]


def test_a_contract_ending_within_90_days_tells_the_owner_once(world, tmp_path):
    world.at(berlin(2026, 12, 31, 16, 0))
    assert contract_notes(world, "olga") == []
    world.at(berlin(2026, 12, 31, 17, 1))  # 90 days before 2027-03-31, at the due time
    (note,) = contract_notes(world, "olga")
    assert note.startswith("The contract with Cloudhost GmbH (S-001) ends on 2027-03-31")
    assert "Criticality: critical" in note
    assert [(who, subject, data) for who, _, subject, data in world.records("contract-ending", "SUP")] == [
        ("system", "S-001", {"contract_end": "2027-03-31"})
    ]
    world.at(berlin(2027, 1, 1, 17, 1))
    import_file(world.ctx, KINDS["supplier"], EXAMPLES / "suppliers.csv")  # unchanged: not told again
    world.tick()
    assert len(contract_notes(world, "olga")) == 1

    extended = (EXAMPLES / "suppliers.csv").read_text(encoding="utf-8").replace("2027-03-31", "2027-06-30")
    path = tmp_path / "suppliers.csv"
    path.write_text(extended, encoding="utf-8")
    import_file(world.ctx, KINDS["supplier"], path)
    world.at(berlin(2027, 4, 1, 17, 1))  # a new end date is a new notice
    assert contract_notes(world, "olga")[-1].startswith("The contract with Cloudhost GmbH (S-001) ends on 2027-06-30")
    assert contract_notes(world, "erin") == []  # S-002 ends in 2028


def test_reviews_become_evidence_requests_to_the_owner_before_the_review_date(world):
    world.at(berlin(2026, 12, 31, 12, 0))
    assert review_requests(world) == []
    world.at(berlin(2027, 1, 1, 17, 1))  # REQ-001's next check 2027-01-31, asked 30 days before
    assert review_requests(world) == [
        (
            "REQ/requirement-review:REQ-001",
            "dora",
            "Review requirement REQ-001: Report personal data breaches to the authority within 72 hours",
            "2027-01-31T17:00:00+01:00",
        )
    ]
    world.at(berlin(2027, 1, 4, 9, 5))  # the evidence engine asks dora on the next working morning
    assert any("Review requirement REQ-001" in text_of(m) for m in world.chat.to("dora"))
    world.at(berlin(2027, 1, 4, 17, 1))  # S-002: high, last reviewed 2026-02-01: yearly, due 2027-02-01
    assert [key for key, *_ in review_requests(world)] == [
        "REQ/requirement-review:REQ-001",
        "SUP/supplier-review:S-002",
    ]
    assert [subject for _, _, subject, _ in world.records("review-requested")] == ["REQ-001", "S-002"]
    world.clock.advance(days=1)
    world.tick()
    assert len(review_requests(world)) == 2  # asked once per review date
    world.at(berlin(2027, 3, 1, 17, 1))  # R-002 (next review 2027-03-31) and S-001 (critical, 2027-04-15)
    assert {key for key, *_ in review_requests(world)} >= {"RA/risk-review:R-002"}
    assert "SUP/supplier-review:S-001" not in {key for key, *_ in review_requests(world)}
    world.at(berlin(2027, 3, 16, 17, 1))
    assert "SUP/supplier-review:S-001" in {key for key, *_ in review_requests(world)}


def test_a_supplier_never_reviewed_is_asked_at_once(world, tmp_path):
    path = tmp_path / "suppliers.csv"
    path.write_text(
        "id,name,service,criticality,owner\nS-009,Newco,Translation of contracts,low,erin\n", encoding="utf-8"
    )
    import_file(world.ctx, KINDS["supplier"], path)
    world.clock.advance(minutes=1)
    world.tick()
    (request,) = [r for r in review_requests(world) if r[0] == "SUP/supplier-review:S-009"]
    assert request[1] == "erin"


def mails(world: World) -> list[tuple[str, list[str], str]]:
    with world.ctx.read() as session:
        rows = session.scalars(select(OutboxEffect).where(OutboxEffect.kind == "mail.send").order_by(OutboxEffect.id))
        return [(row.key, row.payload["recipients"], row.payload["subject"]) for row in rows]


def test_the_supplier_contact_is_asked_by_mail_when_the_organisation_sends_mail(settings, clock, tmp_path):
    org = yaml.safe_load(PACKAGED_EXAMPLE_ORG.read_text(encoding="utf-8"))
    org["microsoft365"] = {"mailbox": "alice"}
    path = tmp_path / "org.yaml"
    path.write_text(yaml.safe_dump(org, sort_keys=False), encoding="utf-8")
    world = make_world(settings, clock, path)
    try:
        import_file(world.ctx, KINDS["supplier"], EXAMPLES / "suppliers.csv")
        world.at(berlin(2027, 1, 4, 17, 1))  # S-002's yearly review (due 2027-02-01) is asked
        assert mails(world) == [
            (
                "supplier:S-002:evidence:2027-02-01",
                ["privacy@payroll.example"],
                "Example Ltd: security evidence for our supplier review (S-002)",
            )
        ]
        assert [s for _, _, s, _ in world.records("supplier-evidence-requested", "SUP")] == ["S-002"]
    finally:
        world.close()


def test_without_mail_the_supplier_contact_is_not_written_to(world):
    world.at(berlin(2027, 1, 4, 17, 1))
    assert "SUP/supplier-review:S-002" in {key for key, *_ in review_requests(world)}
    assert mails(world) == []


def test_the_owner_records_a_supplier_review_which_plans_the_next_one(world):
    item = world.command("olga", "supplier S-001")
    assert item.reply is not None
    assert [(b.action_id, b.value) for b in item.reply.buttons] == [("supplier.review", "S-001")]
    form = world.press("olga", "supplier.review", "S-001").form
    assert form is not None and form.fields[0].initial == "2026-11-23"
    assert world.fill("olga", "supplier.review", {"reviewed_on": "2026-12-01"}, "S-001").errors == {
        "reviewed_on": "A review cannot be recorded for a day still to come."
    }
    refused = world.press("erin", "supplier.review", "S-001")
    assert refused.reply is not None and refused.reply.text.startswith("Sorry, reviewing supplier S-001 is for Olga")
    values = {"reviewed_on": "2026-11-20", "findings": "ISO 27001 certificate renewed until 2029"}
    answer = world.fill("olga", "supplier.review", values, "S-001")
    assert answer.reply is not None and answer.reply.text == (
        "Review of supplier S-001 (Cloudhost GmbH) recorded for 2026-11-20. The next review is due on 2027-11-20."
    )
    (change,) = [d for _, _, s, d in world.records("item-changed", "SUP") if s == "S-001"]
    assert change == {
        "field": "last_review",
        "old": "2026-04-15",
        "new": "2026-11-20",
        "findings": "ISO 27001 certificate renewed until 2029",
    }
    world.at(berlin(2027, 3, 16, 17, 1))  # the review planned from the old date is no longer asked
    assert "SUP/supplier-review:S-001" not in {key for key, *_ in review_requests(world)}
    world.at(berlin(2027, 10, 21, 17, 1))  # 30 days before 2027-11-20
    assert ("SUP/supplier-review:S-001", "olga") in {(key, owner) for key, owner, *_ in review_requests(world)}
