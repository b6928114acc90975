"""Process REC's due work: link new records into the hash chain (and seal it), publish the chain's
head, erase data whose retention has ended.

Only the scheduler's leader ticks, so one linker runs per database; writers never wait for it.
"""

from __future__ import annotations

from storage import records
from workflows.kernel.actors import SYSTEM
from workflows.kernel.recipients import Recipient
from workflows.kernel.ui import Message
from workflows.kernel.work import Context

LINK_WAIT_SECONDS = 0.5
"""How long a tick waits for transactions still in flight before linking past their seqs."""


def link_records(ctx: Context) -> None:
    """Chain what was committed since the last tick; seal it when a records key is configured."""
    with ctx.sessions.begin() as session:
        records.link_pending(session, ctx.clock(), ctx.anchors, wait=LINK_WAIT_SECONDS)


def publish_head(ctx: Context) -> None:
    """Once a day, post the chain's head to the ISMS reports channel: an anchor outside the database
    that ``isms-bot records verify --expect-head`` checks, so a truncated or rewritten log shows."""
    with ctx.work(SYSTEM) as work:
        day = work.now.astimezone(ctx.org.zone).date()
        head = records.head(work.session)
        if head.seq == 0:
            return
        message = Message(
            text=f"Records head on {day:%d %b %Y}: {head.seq:,} record{'' if head.seq == 1 else 's'}",
            body=str(head),
            footer="Keep this line: `isms-bot records verify --expect-head SEQ:HASH` checks the log against it.",
        )
        work.notify(Recipient.channel("isms_reports"), message, f"rec:head:{day.isoformat()}")


def sweep_retention(ctx: Context) -> None:
    """Erase expired data; the erasure is itself a record in the chain (appended by ``erase_expired``)."""
    with ctx.work(SYSTEM) as work:
        records.erase_expired(work.session, work.now)
