"""The tick handles due work in batches: everything due in one tick, one transaction per batch, a
failing item isolated and left for the next tick, nothing sent twice (also by two schedulers)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from sqlalchemy import func, insert, select

from storage.models import EvidenceRequest, Incident, OutboxEffect
from storage.models.incidents import IncidentTimer
from tests.world import World, make_world
from workflows.evidence import ladder
from workflows.incidents import scheduled as incident_timers
from workflows.kernel import batches
from workflows.kernel.process import run_due_work


@pytest.fixture
def world(settings, clock) -> Iterator[World]:
    world = make_world(settings, clock)
    yield world
    world.close()


def seed_incidents(world: World, count: int, *, due_minutes_ago: int = 1) -> None:
    now = world.clock()
    rows = [
        {
            "ref": f"INC-2026-{n + 1:04d}",
            "year": 2026,
            "number": n + 1,
            "request_key": f"seed:{n}",
            "status": "new",
            "reported_at": now - timedelta(hours=2),
            "reporter_id": "erin",
            "reporter_name": "Erin",
            "reporter_to": "person:erin",
            "summary": f"Report {n}",
            "noticed_at": now - timedelta(hours=2),
            "files": [],
            "revision": 0,
            "updated_at": now - timedelta(hours=2),
        }
        for n in range(count)
    ]
    with world.ctx.sessions.begin() as session:
        session.execute(insert(Incident), rows)
        ids = list(session.scalars(select(Incident.id).order_by(Incident.id)))
        session.execute(
            insert(IncidentTimer),
            [{"incident_id": i, "kind": "triage", "due_at": now - timedelta(minutes=due_minutes_ago)} for i in ids],
        )


def seed_requests(world: World, count: int) -> None:
    now = world.clock()
    rows = [
        {
            "activity_key": "RA/risk-review",
            "period": f"p-{n}",
            "process": "RA",
            "title": "Review the risks you own",
            "evidence_kind": "text",
            "period_start": date(2026, 10, 1),
            "period_end": date(2026, 12, 31),
            "owner_id": "olga",
            "status": "open",
            "due_at": now + timedelta(days=30),
            "created_at": now,
            "round": 0,
            "step": 0,
            "next_action_at": now - timedelta(minutes=1),
            "delegations": 0,
        }
        for n in range(count)
    ]
    with world.ctx.sessions.begin() as session:
        session.execute(insert(EvidenceRequest), rows)


def unsent_due(world: World) -> int:
    with world.ctx.read() as session:
        return (
            session.scalar(
                select(func.count()).where(IncidentTimer.sent_at.is_(None), IncidentTimer.due_at <= world.clock())
            )
            or 0
        )


def outbox_keys(world: World) -> list[str]:
    with world.ctx.read() as session:
        return list(session.scalars(select(OutboxEffect.key)))


def test_more_than_a_batch_is_handled_in_one_tick_with_one_transaction_per_batch(world, monkeypatch):
    seed_incidents(world, 2 * batches.BATCH + 50)
    reports: list[batches.BatchReport] = []
    real = batches.run_batches

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        reports.append(real(*args, **kwargs))
        return reports[-1]

    monkeypatch.setattr(incident_timers, "run_batches", spy)
    incident_timers.send_due_reminders(world.ctx)
    assert unsent_due(world) == 0
    assert reports[0].handled == 2 * batches.BATCH + 50 and reports[0].transactions == 3 and reports[0].failed == []
    keys = outbox_keys(world)
    assert len(keys) == len(set(keys))
    # each overdue timer: one thread line, one escalation per escalated person, one record
    assert sum(k.startswith("inc:INC-2026-0001:") for k in keys) >= 2

    before = len(keys)
    incident_timers.send_due_reminders(world.ctx)  # each reminder once
    assert len(outbox_keys(world)) == before


def test_a_failing_timer_is_isolated_and_the_rest_of_its_batch_goes_out(world, monkeypatch, caplog):
    seed_incidents(world, 30)
    real_fire = incident_timers._fire
    with world.ctx.read() as session:
        bad = session.scalar(select(IncidentTimer.id).order_by(IncidentTimer.id).offset(16).limit(1))

    def fire(work, incident, timer, clocks, due):  # type: ignore[no-untyped-def]
        if timer.id == bad:
            raise RuntimeError("a broken timer")
        real_fire(work, incident, timer, clocks, due)

    monkeypatch.setattr(incident_timers, "_fire", fire)
    incident_timers.send_due_reminders(world.ctx)
    assert unsent_due(world) == 1
    assert f"item {bad} failed" in caplog.text
    with world.ctx.read() as session:
        assert session.scalar(select(IncidentTimer.sent_at).where(IncidentTimer.id == bad)) is None
        entries = session.scalar(select(func.count()).select_from(OutboxEffect))
    # the failed half-batches were rolled back: nothing of the bad timer, nothing of the others twice
    keys = outbox_keys(world)
    assert len(keys) == len(set(keys)) == entries
    assert not any(f":timer:{bad}" in key for key in keys)

    monkeypatch.setattr(incident_timers, "_fire", real_fire)  # fixed: the next tick sends it
    incident_timers.send_due_reminders(world.ctx)
    assert unsent_due(world) == 0
    assert any(f":timer:{bad}" in key for key in outbox_keys(world))


def test_a_failing_evidence_request_does_not_hold_back_the_others(world, monkeypatch):
    seed_requests(world, 25)
    real = ladder._advance

    def advance(work, request, now, zones):  # type: ignore[no-untyped-def]
        if request.id == 7:
            raise RuntimeError("broken request")
        real(work, request, now, zones)

    monkeypatch.setattr(ladder, "_advance", advance)
    assert ladder.advance_requests(world.ctx) == 24
    world.deliver()
    assert len(world.chat.to("olga")) == 24
    assert world.request(7).asked_at is None and world.request(8).asked_at is not None


def test_an_empty_tick_opens_no_write_transaction_for_due_work(world, monkeypatch):
    opened: list[object] = []
    real_work = type(world.ctx).work

    def counting(ctx, actor):  # type: ignore[no-untyped-def]
        opened.append(actor)
        return real_work(ctx, actor)

    monkeypatch.setattr(type(world.ctx), "work", counting)
    report = batches.run_batches(world.ctx, "nothing", lambda session, limit, passed: [], lambda work, ids: ids)
    assert report.transactions == 0 and opened == []


def test_two_schedulers_ticking_at_once_send_each_reminder_once(world):
    seed_incidents(world, 300)
    errors: list[BaseException] = []

    def tick() -> None:
        try:
            run_due_work(world.ctx)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=tick) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert unsent_due(world) == 0
    with world.ctx.read() as session:
        records = session.scalar(
            select(func.count()).select_from(Incident).where(Incident.id.in_(select(IncidentTimer.incident_id)))
        )
    keys = outbox_keys(world)
    assert len(keys) == len(set(keys))
    assert sum(":entry:timer:" in key for key in keys) == records == 300
