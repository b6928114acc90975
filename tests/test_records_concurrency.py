"""Linking under concurrent writers on PostgreSQL: a seq taken by a transaction that commits later
than a higher one is neither skipped nor linked out of order; a rolled-back seq is crossed."""

from __future__ import annotations

import random
import threading

import pytest

from storage import migrate, records
from storage.db import make_engine, make_sessions
from tests.test_records import NONE, T0


@pytest.fixture
def pg_sessions(postgres_url):  # type: ignore[no-untyped-def]
    engine = make_engine(postgres_url, pool_size=12)
    migrate.upgrade(engine)
    yield make_sessions(engine)
    engine.dispose()


def entry(n: int) -> records.Entry:
    return records.Entry(T0, f"writer-{n}", "INC", "reported", "incident", f"INC-{n}", {"n": n})


def link(sessions, wait: float = 2.0) -> records.Linked:  # type: ignore[no-untyped-def]
    with sessions.begin() as session:
        return records.link_pending(session, T0, NONE, wait=wait)


def verified(sessions) -> records.Verification:  # type: ignore[no-untyped-def]
    with sessions() as session:
        return records.verify(session)


def test_a_lower_seq_committed_later_is_linked_first(pg_sessions):
    slow = pg_sessions()
    slow.begin()
    [first] = records.append(slow, [entry(1)])
    with pg_sessions.begin() as session:
        [second] = records.append(session, [entry(2)])
    assert first < second
    held = link(pg_sessions, wait=0.2)  # seq `first` may still commit: nothing after it is linked
    assert (held.count, held.waiting) == (0, 1)
    assert verified(pg_sessions).unlinked == 1
    slow.commit()
    slow.close()
    assert link(pg_sessions).count == 2
    result = verified(pg_sessions)
    assert result.ok and (result.count, result.unlinked, result.head.seq) == (2, 0, second)


def test_a_rolled_back_seq_is_crossed_once_settled(pg_sessions):
    doomed = pg_sessions()
    doomed.begin()
    records.append(doomed, [entry(1)])
    with pg_sessions.begin() as session:
        records.append(session, [entry(2)])
    assert link(pg_sessions, wait=0.1).count == 0
    doomed.rollback()
    doomed.close()
    assert link(pg_sessions).count == 1
    result = verified(pg_sessions)
    assert result.ok and result.count == 1 and result.unlinked == 0


def test_eight_writers_and_a_linker_give_one_chain_of_every_committed_record(pg_sessions):
    committed: list[int] = []
    lock = threading.Lock()
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        rng = random.Random(n)
        try:
            for i in range(40):
                session = pg_sessions()
                with session.begin():
                    seqs = records.append(session, [entry(n * 1000 + i)] * rng.randint(1, 3))
                    if rng.random() < 0.15:
                        session.rollback()
                        continue
                with lock:
                    committed.extend(seqs)
                session.close()
        except BaseException as error:
            errors.append(error)

    def linker() -> None:
        try:
            while not stop.is_set():
                link(pg_sessions, wait=0.05)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    linking = threading.Thread(target=linker)
    linking.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stop.set()
    linking.join()
    assert not errors
    link(pg_sessions)
    result = verified(pg_sessions)
    assert result.ok, result
    assert (result.count, result.unlinked, result.head.seq) == (len(committed), 0, max(committed))
