"""The records chain as the scheduler keeps it: the leader's tick links what was committed and posts
the head to the ISMS reports channel once a day, and that post is what an auditor checks against."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text

from storage import records
from tests.world import World, make_world
from workflows.kernel.actors import SYSTEM


@pytest.fixture
def world(settings, clock) -> Iterator[World]:
    built = make_world(settings, clock)
    yield built
    built.close()


def _head_posts(world: World) -> list[str]:
    return [s.message.body for s in world.chat.sent if s.to == "channel:isms_reports"]


def test_the_tick_links_new_records_and_posts_the_head_once_a_day(world, clock):
    with world.ctx.work(SYSTEM) as work:
        for n in range(3):
            work.record("GOV", "decided", ("review", f"MR-{n}"), {"n": n})
    with world.ctx.read() as session:
        assert records.verify(session).unlinked == 3

    world.tick()
    world.tick()  # the same day: linked already, head already posted

    with world.ctx.read() as session:
        verification = records.verify(session)
        current = records.head(session)
    assert verification.ok and verification.unlinked == 0 and verification.count == 3
    assert _head_posts(world) == [str(current)]

    clock.advance(days=1)
    with world.ctx.work(SYSTEM) as work:
        work.record("GOV", "decided", ("review", "MR-3"), {"n": 3})
    world.tick()
    posts = _head_posts(world)
    assert len(posts) == 2 and records.Head.parse(posts[1]).seq == 4


def test_a_posted_head_catches_a_truncated_log(world):
    with world.ctx.work(SYSTEM) as work:
        for n in range(5):
            work.record("GOV", "decided", ("review", f"MR-{n}"), {"n": n})
    world.tick()
    published = records.Head.parse(_head_posts(world)[0])

    with world.ctx.sessions.begin() as session:
        session.execute(text("DELETE FROM records WHERE seq > 3"))
    with world.ctx.read() as session:
        without_anchor = records.verify(session)
        with_anchor = records.verify(session, expect=[published])
    assert without_anchor.ok  # a chain cut at its tail is still a valid chain ...
    assert not with_anchor.ok and with_anchor.broken_seq is not None  # ... but not the one that was published


def test_no_head_is_posted_for_an_empty_log(world):
    world.tick()
    assert _head_posts(world) == []
