"""The auditor's evidence bundle of a period, made the same way for ``isms-bot audit bundle`` and for
``/isms bundle`` in chat: the period's records, the incident, evidence and change registers, the
evidence answers, SHA256SUMS, the chain head and a README (``storage/bundle.py`` writes the zip)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from storage import bundle
from workflows.communication import reports
from workflows.evidence import service as evidence
from workflows.kernel.work import Context
from workflows.performance.periods import Period

REGISTERS: tuple[reports.Kind, ...] = ("incidents", "evidence", "changes")


def write_bundle(ctx: Context, period: Period, now: datetime, out: Path) -> tuple[int, str]:
    """Write the bundle of ``period`` to ``out``; returns (records in it, SHA-256 of the zip)."""
    with ctx.read() as session:
        return bundle.write(
            out,
            session=session,
            organisation=ctx.org.name,
            period=period.label,
            since=period.start,
            until=period.end,
            made=now,
            registers=[(name, reports.register_csv(ctx, name, period, now)) for name in REGISTERS],
            answers=evidence.answers(session, period.start, period.end),
        )
