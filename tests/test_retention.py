"""Retention: records get the organisation's retention period; the sweep erases data, the chain holds."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from bot.console import Console
from bot.runtime import build_runtime
from storage import records
from storage.models import Record
from workflows.kernel.actors import resolve_actor
from workflows.records.scheduled import sweep_retention


def test_sweep_erases_expired_data_and_keeps_the_chain(settings, clock):
    runtime = build_runtime(settings, Console(say=lambda _: None).deliver, clock=clock)
    ctx = runtime.ctx
    ctx.org = ctx.org.model_copy(update={"retention_days": {"default": 3650, "INC": 30}})
    alice = resolve_actor(ctx.org, email="alice@example.org")
    with ctx.work(alice) as work:
        work.record("INC", "reported", ("incident", "INC-2026-0001"), {"text": "laptop stolen"})
        work.record("GOV", "decided", ("review", "MR-2026"), {"decision": "more budget"})
    sweep_retention(ctx)
    clock.advance(days=31)
    sweep_retention(ctx)
    with ctx.read() as session:
        rows = session.scalars(select(Record).order_by(Record.seq)).all()
        pending = records.verify(session)  # before the linker runs: checked, counted as not yet linked
    with ctx.sessions.begin() as session:
        records.link_pending(session, clock(), records.Anchors())
    with ctx.read() as session:
        verification = records.verify(session, now=clock())
    assert [(r.process, r.action, r.data is None) for r in rows] == [
        ("INC", "reported", True),
        ("GOV", "decided", False),
        ("REC", "erased", False),  # the erasure itself is a record, appended by the sweep
    ]
    assert json.loads(rows[2].data) == {"count": 1, "seqs": [[rows[0].seq, rows[0].seq]]}
    assert rows[2].retain_until is None and rows[2].at >= rows[0].retain_until
    assert rows[1].retain_until - rows[1].at == timedelta(days=3650)
    assert pending.ok and (pending.count, pending.unlinked) == (3, 3)
    assert verification.ok and (verification.count, verification.unlinked, verification.erased) == (3, 0, 1)
