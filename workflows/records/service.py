"""What the bot could not deliver: dead outbox effects, shown to the ISMS manager (process REC)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from config.organisation import Role
from storage import intake
from storage.models.outbox import OutboxEffect
from storage.models.records import Record
from storage.outbox import DEAD, counts_by_status
from workflows.kernel.access import require
from workflows.kernel.actors import Actor
from workflows.kernel.paging import page_message, window
from workflows.kernel.people import plural
from workflows.kernel.ui import Message, Outcome
from workflows.kernel.work import Context

MORE = "records.more"
DEAD_LIST = "dead"


def undelivered(ctx: Context, actor: Actor, offset: int = 0) -> Outcome:
    """``/isms outbox``: effects by status first, then the dead ones, newest first, a page at a time."""
    require(ctx, actor, {Role.ISMS_MANAGER}, process="REC", what="the delivery report")
    with ctx.read() as session:
        counts = counts_by_status(session)
        page = window(counts.get(DEAD, 0), offset)
        dead = list(
            session.scalars(
                select(OutboxEffect)
                .where(OutboxEffect.status == DEAD)
                .order_by(OutboxEffect.id.desc())
                .offset(page.offset)
                .limit(page.size)
            )
        )
        if page.total and not dead:  # counted a moment ago, retried or pruned since
            page = window(session.scalar(select(func.count()).where(OutboxEffect.status == DEAD)) or 0, 0)
    fields = tuple((status, f"{counts.get(status, 0):,}") for status in ("pending", "sending", "sent", "dead"))
    if not page.total:
        return Outcome(
            reply=Message(text="Nothing is stuck: every effect was delivered or is still being tried.", fields=fields)
        )
    lines = [f"{e.key} ({e.kind}), {e.attempts} attempts: {e.last_error or 'no error text'}" for e in dead]
    return Outcome(
        reply=page_message(
            title=f"{plural(page.total, 'effect')} could not be delivered and "
            f"need{'s' if page.total == 1 else ''} a look:",
            counts=fields,
            lines=lines,
            page=page,
            more=MORE,
            name=DEAD_LIST,
        )
    )


def recent_records(
    session: Session, processes: tuple[str, ...], limit: int
) -> list[tuple[int, datetime, str, str, str, str]]:
    """``(seq, at, actor, action, subject type, subject id)`` of the newest records of ``processes``
    (the index on process and time serves it)."""
    rows = session.execute(
        select(Record.seq, Record.at, Record.actor, Record.action, Record.subject_type, Record.subject_id)
        .where(Record.process.in_(processes))
        .order_by(Record.at.desc(), Record.seq.desc())
        .limit(limit)
    )
    return [(seq, at, who, action, kind, ident) for seq, at, who, action, kind, ident in rows]


def undelivered_count(session: Session) -> int:
    return counts_by_status(session).get(DEAD, 0)


def status_lines(session: Session, ctx: Context, now: datetime) -> list[str]:
    """``/isms status``: the Slack requests acknowledged but not yet run, and those that failed for good
    (each person was given an ``ERR-`` reference; the newest is named so the log can be searched).
    Nothing when all is zero, the usual case."""
    found = intake.health(session, now - intake.KEEP_FAILED)  # as far back as failed rows are kept
    if not (found.waiting or found.running or found.failed):
        return []
    line = (
        f"Slack requests: {found.waiting:,} waiting, {found.running:,} running, "
        f"{plural(found.failed, 'failed request')} in the last {intake.KEEP_FAILED.days} days"
    )
    if found.newest_failure:
        line += f" (newest {found.newest_failure})"
    return [line]
