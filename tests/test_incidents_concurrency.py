"""Many reports at the same moment keep references unique and gap-free, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import select

from config.settings import load_settings
from storage import records
from storage.models import Incident
from tests.support import fresh_postgres_database
from tests.world import World, make_world
from workflows.incidents import flows as incidents

REPORTERS = ("erin", "olga", "mia", "dora", "hana")


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path: Path, clock) -> Iterator[World]:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        world = make_world(load_settings(ISMS_DATABASE_URL=f"sqlite:///{tmp_path / 'many.db'}"), clock)
        yield world
        world.close()
        return
    template = request.getfixturevalue("migrated_postgres_template")
    with fresh_postgres_database(template=template) as url:
        world = make_world(load_settings(ISMS_DATABASE_URL=url), clock)
        yield world
        world.close()


def _report_all_at_once(world: World, keys: list[str]) -> list[str]:
    start = threading.Barrier(len(keys))

    def one(index: int) -> str:
        actor = world.actor(REPORTERS[index % len(REPORTERS)])
        start.wait()
        outcome = incidents.quick_report(world.ctx, actor, key=keys[index], text=f"Report number {index}")
        assert outcome.reply is not None
        match = re.search(r"INC-\d{4}-\d{4}", outcome.reply.text)
        assert match is not None, outcome.reply.text
        return match.group(0)

    with ThreadPoolExecutor(len(keys)) as pool:
        return list(pool.map(one, range(len(keys))))


def test_twenty_simultaneous_reports_get_consecutive_unique_references(world):
    refs = _report_all_at_once(world, [f"burst:{i}" for i in range(20)])
    assert sorted(refs) == [f"INC-2026-{n:04d}" for n in range(1, 21)]
    with world.ctx.read() as session:
        stored = {i.ref: i.summary for i in session.scalars(select(Incident))}
        chain = records.verify(session)
    assert {ref: stored[ref] for ref in refs} == {ref: f"Report number {i}" for i, ref in enumerate(refs)}
    assert chain.ok and chain.count == 20
    world.deliver()
    assert sorted(s.key for s in world.chat.sent) == sorted(f"inc:{ref}:triage" for ref in refs)


def test_the_same_request_arriving_eight_times_at_once_is_one_incident(world):
    refs = _report_all_at_once(world, ["same-trigger"] * 8)
    assert refs == ["INC-2026-0001"] * 8
    with world.ctx.read() as session:
        assert session.scalars(select(Incident.ref)).all() == ["INC-2026-0001"]
    assert len(world.records("reported", "INC")) == 1
