"""The local tracker: tickets in the records store, used when Jira is not configured.

It gives the embedded default the same change lifecycle as Jira: approval opens a ticket
(``LOCAL-1``, ``LOCAL-2``...), the ISMS manager moves it with ``/isms ticket LOCAL-1 done <comment>``,
and the status mapping of the organisation file turns that into change states exactly as it does
for Jira statuses. Its senders run in the outbox like Jira's, so the flow, records and messages are
the same; they only never fail for outside reasons.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from storage.counters import next_number
from storage.models.changes import LocalTicket
from storage.outbox import Effect, RetryLater, Sender
from workflows.changes import tracker as change_tracker
from workflows.changes.flows import apply_tracker_update, link_tracker
from workflows.changes.tracker import TrackerUpdate
from workflows.kernel.access import require
from workflows.kernel.actors import SYSTEM, Actor
from workflows.kernel.ui import Outcome
from workflows.kernel.work import Context

TRACKER = "local"
# The words ``/isms ticket`` understands: status and resolution, as a Jira workflow would set them.
MOVES: dict[str, tuple[str, str | None]] = {
    "todo": ("To Do", None),
    "progress": ("In Progress", None),
    "done": ("Done", "Done"),
    "wontdo": ("Done", "Won't Do"),
}
MOVER_ROLE = "isms_manager"


class LocalTracker:
    """The ``tracker.*`` senders writing to the ``local_tickets`` table."""

    def __init__(self, ctx: Context):
        self._ctx = ctx

    def senders(self) -> dict[str, Sender]:
        return {
            change_tracker.CREATE: self.create,
            change_tracker.COMMENT: self.comment,
            change_tracker.POLL: lambda effect: {"seen": 0},
        }

    def create(self, effect: Effect) -> dict[str, Any]:
        """Open the ticket and link it, in one transaction; a second call finds the same ticket."""
        payload = effect.payload
        ref = str(payload["ref"])
        with self._ctx.work(SYSTEM) as work:
            ticket = work.session.scalar(select(LocalTicket).where(LocalTicket.change_ref == ref))
            if ticket is None:
                ticket = LocalTicket(
                    key=f"LOCAL-{next_number(work.session, 'LOCAL')}",
                    change_ref=ref,
                    summary=str(payload["summary"]),
                    description=str(payload["description"]),
                    status=MOVES["todo"][0],
                    created_at=work.now,
                    updated_at=work.now,
                )
                work.session.add(ticket)
            link_tracker(work, ref, ticket.key, tracker=TRACKER)
            return {"key": ticket.key}

    def comment(self, effect: Effect) -> dict[str, Any]:
        with self._ctx.work(SYSTEM) as work:
            ticket = work.session.scalar(
                select(LocalTicket).where(LocalTicket.change_ref == str(effect.payload["ref"])).with_for_update()
            )
            if ticket is None:
                raise RetryLater("the change has no ticket yet")
            line = str(effect.payload["body"])
            if line not in (ticket.comment or "").splitlines():
                ticket.comment = "\n".join(filter(None, (ticket.comment, line)))
            return {"key": ticket.key}


@dataclass(frozen=True)
class TicketMove:
    key: str
    move: str
    comment: str


def parse_move(text: str) -> TicketMove | str:
    """``LOCAL-1 done It is in place`` -> TicketMove, or what to type instead."""
    parts = text.split(maxsplit=2)
    usage = f"Usage: /isms ticket LOCAL-<n> {'|'.join(MOVES)} [comment]"
    if len(parts) < 2 or parts[1].lower() not in MOVES:
        return usage
    return TicketMove(parts[0].upper(), parts[1].lower(), parts[2].strip() if len(parts) > 2 else "")


def move_ticket(ctx: Context, actor: Actor, text: str, key: str) -> Outcome:
    """Move a local ticket as somebody working it would; the change follows the status mapping."""
    require(ctx, actor, {MOVER_ROLE}, process="IMP", what="moving local tickets")
    move = parse_move(text)
    if isinstance(move, str):
        return Outcome.say(move)
    if len(move.comment) > 2000:
        return Outcome.say("Please keep the comment under 2000 characters.")
    status, resolution = MOVES[move.move]
    with ctx.work(actor) as work:
        if not work.once(key):
            return Outcome.say(f"{move.key} was already moved.")
        ticket = work.session.scalar(select(LocalTicket).where(LocalTicket.key == move.key).with_for_update())
        if ticket is None:
            return Outcome.say(f"There is no local ticket {move.key}. /isms changes lists changes with their tickets.")
        # Updates apply only when newer than the last one; two moves in the same instant must still both count.
        updated = max(work.now, ticket.updated_at + timedelta(microseconds=1))
        ticket.status, ticket.resolution, ticket.updated_at = status, resolution, updated
        if move.comment:
            ticket.comment = "\n".join(filter(None, (ticket.comment, f"{actor.name}: {move.comment}")))
        apply_tracker_update(
            work, TrackerUpdate(ticket.key, status, updated, resolution, move.comment or None, actor.name)
        )
        ref = ticket.change_ref
    return Outcome.say(f"{move.key} ({ref}) is now {status}" + (f" (resolution: {resolution})." if resolution else "."))
