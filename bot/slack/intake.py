"""The workers that run the workflows of stored Slack requests (``storage/intake.py``).

The request thread stores a request and hands its id to ``IntakeWorkers.submit``; a bounded number of
worker threads claim and run them in order of arrival. A sweep (at start, then every ``sweep``
seconds while the local queue is empty) hands the workers what is claimable and not held here: what a
process that crashed left behind, and retries whose wait is over. Workers and sweeps of several
replicas share the table safely: each claim is one conditional ``UPDATE``.

A run that raises (outside the workflow: the router turns a workflow's failure into an ``ERR-``
reply itself) is retried after a wait; after the last attempt the row is marked failed and the person
is told, through ``give_up``, with an ``ERR-`` reference to quote.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from storage import intake
from storage.intake import Claimed

log = logging.getLogger(__name__)

SWEEP = 5.0
"""Seconds between looks for claimable requests this process does not hold."""
SWEEP_LIMIT = 200
"""Requests handed to the workers by one sweep at most."""
CLAIM_BATCH = 16
"""Requests one worker claims in one statement at most, when that many are queued."""

Run = Callable[[Claimed], None]
"""Runs a claimed request's workflow, queues its reply and finishes the row, in the reply's transaction."""
GiveUp = Callable[[Claimed, str], None]
"""Tells the person that their request failed for good (after its last attempt); the row is failed."""


class IntakeWorkers:
    """A bounded pool running stored Slack requests, and the sweep that replays what is left over."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Callable[[], datetime],
        run: Run,
        give_up: GiveUp,
        *,
        workers: int,
        lease: timedelta = intake.LEASE,
        sweep: float = SWEEP,
    ):
        self._sessions = sessions
        self._clock = clock
        self._run = run
        self._give_up = give_up
        self._workers = workers
        self._lease = lease
        self._sweep = sweep
        self._queue: queue.Queue[int | None] = queue.Queue()
        self._held: set[int] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for number in range(self._workers):
            thread = threading.Thread(target=self._work, name=f"intake-{number}", daemon=True)
            thread.start()
            self._threads.append(thread)
        sweeper = threading.Thread(target=self._sweep_forever, name="intake-sweep", daemon=True)
        sweeper.start()
        self._threads.append(sweeper)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the requests being run; those still queued stay stored for the next start."""
        self._stop.set()
        for _ in range(self._workers):
            self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout=timeout)

    def submit(self, request_id: int) -> None:
        with self._lock:
            if request_id in self._held:
                return
            self._held.add(request_id)
        self._queue.put(request_id)

    def sweep_once(self) -> int:
        """Hand the workers what is claimable and not held here; how many."""
        with self._lock:
            held = set(self._held)
        with self._sessions() as session:
            found = intake.claimable(session, self._clock(), limit=SWEEP_LIMIT, besides=held)
        for request_id in found:
            self.submit(request_id)
        return len(found)

    def _sweep_forever(self) -> None:
        while not self._stop.is_set():
            if self._queue.empty():
                try:
                    self.sweep_once()
                except Exception:
                    log.exception("intake sweep failed; trying again in %s s", self._sweep)
            self._stop.wait(self._sweep)

    def _work(self) -> None:
        while True:
            batch, stopping = self._next_batch()
            try:
                self._attempt(batch)
            except Exception:
                log.exception("intake requests %s: could not claim or record an outcome", batch)
            finally:
                with self._lock:
                    self._held.difference_update(batch)
            if stopping:
                return

    def _next_batch(self) -> tuple[list[int], bool]:
        """The next request, and those queued right behind it (up to ``CLAIM_BATCH``): under a burst one
        claim takes several; whether the pool is stopping."""
        batch: list[int] = []
        first = self._queue.get()
        while first is not None and not self._stop.is_set():
            batch.append(first)
            if len(batch) == CLAIM_BATCH:
                return batch, False
            try:
                first = self._queue.get_nowait()
            except queue.Empty:
                return batch, False
        return batch, True

    def _attempt(self, batch: list[int]) -> None:
        if not batch:
            return
        with self._sessions.begin() as session:
            claimed = intake.claim(session, batch, self._clock(), self._lease)
        # the others are done, failed, or another worker or replica has them
        for request in claimed:
            self._run_one(request)

    def _run_one(self, claimed: Claimed) -> None:
        try:
            self._run(claimed)
        except Exception as error:
            problem = f"{type(error).__name__}: {error}"
            if claimed.last:
                log.exception("intake request %s (%s) failed for good", claimed.id, claimed.key)
                self._give_up(claimed, problem)
                return
            with self._sessions.begin() as session:
                due = intake.retry_later(session, claimed, self._clock(), problem)
            log.warning("intake request %s (%s) failed (%s); again at %s", claimed.id, claimed.key, problem, due)
