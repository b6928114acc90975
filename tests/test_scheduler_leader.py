"""One scheduler per database: the election, APScheduler's fixed job set in its SQLAlchemy job
store, and catching up once after a restart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from bot.scheduler import ADVISORY_KEY, BotScheduler, LeaseLeadership
from storage.db import is_postgresql
from storage.models import SchedulerLease
from tests.support import eventually
from tests.world import EVIDENCE, World, berlin, programme_world


def leaders_on_record(world: World) -> list[str]:
    """Who the database says runs the scheduler: the holder of an unexpired lease, or on PostgreSQL
    the backend (pid) of each session of this database holding the advisory lock."""
    engine = world.runtime.engine
    if is_postgresql(engine):
        with engine.connect() as connection:
            return list(
                connection.scalars(
                    text(
                        "SELECT pid::text FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = :low "
                        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                    ),
                    {"low": ADVISORY_KEY & 0xFFFFFFFF},
                )
            )
    with world.ctx.read() as session:
        lease = session.get(SchedulerLease, "scheduler")
    return [lease.holder] if lease is not None and lease.expires_at > datetime.now(UTC) else []


def scheduler(world: World, **options: float) -> BotScheduler:
    return BotScheduler(
        world.ctx,
        world.runtime.engine,
        recheck_seconds=options.get("recheck", 0.05),
        tick_seconds=options.get("tick", 60.0),
    )


def test_one_process_leads_and_a_standby_takes_over_when_it_stops(settings, clock, tmp_path):
    first = programme_world(settings, clock, tmp_path, [{"activity": "RA/risk-review"}])
    second = programme_world(settings, clock, tmp_path, [{"activity": "RA/risk-review"}])
    leader, standby = scheduler(first).start(), scheduler(second).start()
    try:
        # start() elects at once, and the database names one leader (so a standby's claims fail).
        assert (leader.is_leader, standby.is_leader) == (True, False)
        assert len(leaders_on_record(first)) == 1
        assert not standby.tick()  # a standby never runs the due work
        leader.stop()
        assert eventually(lambda: standby.is_leader)
        assert standby.tick()
    finally:
        leader.stop()
        standby.stop()
        first.runtime.engine.dispose()
        second.runtime.engine.dispose()


def test_a_lease_left_by_a_dead_process_is_taken_over_when_it_expires(settings, clock, tmp_path):
    world = programme_world(settings, clock, tmp_path)
    now = [datetime(2026, 11, 23, 9, 0, tzinfo=UTC)]
    dead = LeaseLeadership(world.runtime.engine, "host-a:111", timedelta(seconds=30), now=lambda: now[0])
    alive = LeaseLeadership(world.runtime.engine, "host-b:222", timedelta(seconds=30), now=lambda: now[0])
    assert dead.claim()
    assert not alive.claim() and not alive.holds()
    now[0] += timedelta(seconds=29)
    assert not alive.claim()
    now[0] += timedelta(seconds=2)  # the dead process stopped renewing 31 s ago
    assert alive.claim() and alive.holds()
    assert not dead.holds()  # and if it wakes up, it knows it lost
    with world.ctx.read() as session:
        lease = session.get(SchedulerLease, "scheduler")
        assert lease is not None and lease.holder == "host-b:222"
    world.runtime.engine.dispose()


def test_the_job_store_holds_the_same_two_jobs_after_every_restart(settings, clock, tmp_path):
    world = programme_world(settings, clock, tmp_path)
    for _ in range(3):
        running = scheduler(world).start()
        assert eventually(lambda running=running: running.ticks >= 1)  # the first tick runs at once
        running.stop()
    with world.runtime.engine.connect() as connection:
        jobs = connection.execute(text("SELECT id, next_run_time FROM apscheduler_jobs ORDER BY id")).all()
    assert [job.id for job in jobs] == ["tick", "timezones"]
    assert all(job.next_run_time for job in jobs)
    world.runtime.engine.dispose()


def test_a_restart_mid_schedule_catches_up_once(settings, clock, tmp_path):
    world = programme_world(settings, clock, tmp_path, [{"activity": "RA/risk-review"}])
    before = scheduler(world).start()
    assert eventually(lambda: before.ticks >= 1)
    clock.set(berlin(2026, 12, 17, 17, 0))
    assert before.tick()
    world.runtime.dispatcher.drain()
    assert world.chat.to_people() == [("olga", "Evidence needed: Review the risks you own")]
    before.stop()

    clock.set(berlin(2027, 1, 5, 10, 0))  # down over three reminders and two escalation rungs
    after = scheduler(world).start()
    try:
        assert eventually(lambda: after.ticks >= 1)  # caught up by the first tick, without waiting a minute
        world.runtime.dispatcher.drain()
        assert world.chat.to_people()[1:] == [
            ("mia", "Olga Ortiz has not answered an evidence request for 5 days past its due date")
        ]
        assert after.tick() and after.tick()
        world.runtime.dispatcher.drain()
        assert len(world.chat.to_people()) == 2
        assert [action for _, action, _, _ in world.records(subjects=EVIDENCE)] == ["asked", "escalated"]
    finally:
        after.stop()
        world.runtime.engine.dispose()
