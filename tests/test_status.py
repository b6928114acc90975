"""``/isms status`` and the metrics: the whole ISMS for overseers, one's own items for employees,
metrics equal to hand-computed values, auditor access recorded, the message within Slack's limits."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.slack.blocks import MAX_BLOCKS, MAX_SECTION, message_blocks
from tests import status_data
from tests.world import World, text_of
from workflows.performance import metrics, periods


@pytest.fixture
def world(settings, clock, tmp_path) -> Iterator[World]:
    world = status_data.reporting_world(settings, clock, tmp_path)
    yield world
    world.close()


def measure(world: World, label: str) -> metrics.Measurements:
    now = world.clock()
    period = periods.parse(label, world.ctx.org.zone, now)
    with world.ctx.read() as session:
        return metrics.measure(session, world.ctx.org, period, now)


def value(measured: metrics.Measurements, metric_id: str) -> float | None:
    found = measured.get(metric_id)
    assert found is not None, metric_id
    return None if found.value is None else round(found.value, 3)


def test_metrics_equal_hand_computed_values(world):
    status_data.seed(world)
    q4 = measure(world, "2026-Q4")
    assert value(q4, "inc.resolve.median.P2") == 20
    assert value(q4, "inc.resolve.p90.P2") == 40
    assert q4.get("inc.resolve.p90.P2").count == 4
    assert value(q4, "inc.triage.median.P1") == 1
    assert value(q4, "inc.triage.p90.P1") == 2
    assert value(q4, "inc.triage.median.P2") == 0.5
    assert value(q4, "inc.resolve.median.P1") is None  # none closed
    assert value(q4, "chg.lead_time.median") == 10
    assert value(q4, "chg.lead_time.p90") == 20
    # requests 1 (on time), 2 (late), 3 (overdue, unanswered) count; 4 is not due yet
    assert value(q4, "evidence.on_time_rate") == round(100 / 3, 3)
    assert q4.on_time_by_process == {"RA": (2, 1), "SUP": (1, 0)}
    # the example organisation's thresholds: P2 p90 ≤ 72 h holds; P1 triage p90 ≤ 0.5 h and on time ≥ 80 % do not
    assert [m.id for m in q4.crossed] == ["inc.triage.p90.P1", "evidence.on_time_rate"]


def test_metrics_of_an_empty_store_and_of_a_period_without_incidents(world):
    empty = measure(world, "2026-Q4")
    assert all(m.value is None for m in empty.items)
    assert empty.crossed == []
    status_data.seed(world)
    q1 = measure(world, "2026-Q1")
    assert all(m.value is None for m in q1.items if m.id.startswith("inc."))
    assert value(q1, "evidence.on_time_rate") is None


@pytest.mark.parametrize("person", ["alice", "sam", "mia", "aldo"])
def test_overseers_see_the_whole_isms(world, person):
    status_data.seed(world)
    reply = world.command(person, "status").reply
    assert reply is not None
    text = text_of(reply)
    assert "ISMS status of Example Ltd, 2026-Q4 so far" in text
    assert text.count("\n") > 17
    for pid in world.ctx.catalogue.ids:
        assert f"\n{pid} " in "\n" + reply.body or f"⚠ {pid} " in reply.body, pid
    assert "Incidents: 4 open (P1 3, not rated 1)" in text
    assert "Changes: 1 open (in implementation 1)" in text and "CHG-2026-0003 in implementation (LOCAL-3)" in text
    assert "Open incidents: 4" in text and "Evidence to review: 1" in text
    assert "⚠ Evidence on time: 33 % (≥ 80)" in text
    assert "⚠ SUP" in reply.body
    blocks = message_blocks(reply)
    assert len(blocks) <= MAX_BLOCKS
    assert all(len(b.get("text", {}).get("text", "")) <= MAX_SECTION for b in blocks)
    assert {b.value for b in reply.buttons} == {"INC", "CHG", "PERF"}


def test_one_process_in_detail_with_its_records(world):
    world.command("erin", "Phishing mail with a link", name="/incident")
    status_data.seed(world)
    reply = world.command("alice", "status inc").reply
    assert reply is not None
    assert reply.text.startswith("INC ") and "Incidents: 5 open" in reply.body
    assert "Recent records of INC:" in reply.body and "reported incident INC-" in reply.body
    assert world.command("alice", "status NOPE").reply.text.startswith("There is no process NOPE")
    detail = world.press("alice", "com.status", "CHG")
    assert detail.reply is not None and "Changes: 1 open" in detail.reply.body


def test_an_employee_sees_only_their_own_items(world):
    status_data.seed(world)
    reply = world.command("erin", "status").reply
    assert reply is not None
    text = text_of(reply)
    assert reply.text == "Your items in the ISMS, Erin Evans"
    assert "Your open incident reports: 0" in text and "Your open evidence requests: 1" in text
    assert "INC-2026" not in text and "secret" not in text
    olga = text_of(world.command("olga", "status").reply)
    assert "Your open incident reports: 4" in olga and "Your open changes: 1" in olga
    assert "ISMS status" not in olga and "Erin" not in olga
    # the detail of a process is not a way around it
    assert "Recent records" not in text_of(world.command("erin", "status INC").reply)
    assert "Recent records" not in text_of(world.press("erin", "com.status", "INC").reply)
    refused = world.command("erin", "metrics").reply
    assert refused is not None and refused.text.startswith("Sorry, the metrics is for")


def test_each_auditor_access_is_a_record(world):
    world.command("aldo", "status")
    world.command("aldo", "status INC")
    world.command("aldo", "metrics 2026-Q4")
    world.command("alice", "status")
    accesses = world.records(action="auditor-access")
    assert [(who, subject) for who, _, subject, _ in accesses] == [
        ("aldo", "all"),
        ("aldo", "INC"),
        ("aldo", "metrics"),
    ]


def test_metrics_command_lists_every_metric(world):
    status_data.seed(world)
    reply = world.command("alice", "metrics 2026-Q4").reply
    assert reply is not None and reply.text == "Metrics for 2026-Q4"
    assert "inc.resolve.p90.P2: Time to resolve P2, 90th percentile: 40.0 h (threshold ≤ 72)" in reply.body
    assert world.command("alice", "metrics 2026-13").reply.text.startswith("I cannot read '2026-13'")
