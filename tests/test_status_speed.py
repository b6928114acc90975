"""What keeps ``/isms status`` fast at a million records must not change what it says: the first
answer's time kept on the evidence request (set with the first answer, kept through later rounds,
backfilled by migration 0018 from the answers stored before it) gives the same on-time rate as the
answers themselves."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from storage import migrate
from storage.db import make_engine
from storage.models import EvidenceRequest
from tests.test_evidence_answers import PERIOD, RISK_REVIEW, review, submit
from tests.world import World, berlin, programme_world
from workflows.performance import metrics, periods


@pytest.fixture
def world(settings, clock, tmp_path) -> Iterator[World]:
    world = programme_world(settings, clock, tmp_path, RISK_REVIEW)
    world.at(berlin(2026, 12, 17, 17, 0))  # olga is asked for the Q4 risk review
    clock.set(berlin(2026, 12, 18, 10, 0))
    yield world
    world.runtime.engine.dispose()


def first_answer(world: World) -> datetime | None:
    with world.ctx.read() as session:
        return session.scalar(select(EvidenceRequest.first_answer_at))


def test_the_first_answer_is_kept_through_a_second_round(world, clock):
    assert first_answer(world) is None
    submit(world, text="Reviewed all risks")
    answered = berlin(2026, 12, 18, 10, 0)
    assert first_answer(world) == answered
    review(world, accept=False, comment="Which risks changed?", due="2027-01-08")
    clock.set(berlin(2027, 1, 5, 10, 0))  # the second answer comes after the first due date
    submit(world, text="Reviewed again", **PERIOD)
    assert first_answer(world) == answered  # the on-time rate counts the first answer of any round
    clock.set(berlin(2027, 1, 10, 10, 0))  # after the new due date (8 Jan), so the request counts
    since = periods.parse("since 2026-10-01", world.ctx.org.zone, clock())
    with world.ctx.read() as session:
        measured = metrics.measure(session, world.ctx.org, since, clock())
    assert measured.on_time_by_process == {"RA": (1, 1)}  # first answered in December, before it was due


def test_migration_0018_backfills_the_first_answer_from_stored_answers(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    migrate.upgrade(engine, "0009")
    due = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
    with engine.begin() as connection:
        for request_id in (1, 2):
            connection.execute(
                text(
                    "INSERT INTO evidence_requests (id, activity_key, period, process, title, evidence_kind, "
                    "period_start, period_end, owner_id, status, due_at, created_at, round, step, delegations) "
                    "VALUES (:id, :key, '2026-Q4', 'RA', 't', 'text', '2026-10-01', '2026-12-31', 'olga', 'open', "
                    ":due, :due, 0, 0, 0)"
                ),
                {"id": request_id, "key": f"RA/a{request_id}", "due": due.replace(tzinfo=None)},
            )
        for at in (due - timedelta(days=1), due + timedelta(days=3)):  # two rounds of request 1
            connection.execute(
                text(
                    "INSERT INTO evidence_submissions (request_id, round, submitted_by, submitted_at, not_applicable) "
                    "VALUES (1, 0, 'olga', :at, 0)"
                ),
                {"at": at.replace(tzinfo=None)},
            )
    migrate.upgrade(engine)
    with engine.connect() as connection:
        rows = connection.execute(
            select(EvidenceRequest.id, EvidenceRequest.first_answer_at).order_by(EvidenceRequest.id)
        ).all()
    engine.dispose()
    assert rows == [(1, due - timedelta(days=1)), (2, None)]
