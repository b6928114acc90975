"""``/isms ticket LOCAL-1 done <comment>``: the ISMS manager works a local tracker ticket as somebody
working a Jira issue would, and the change follows by the same status mapping as for Jira."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from storage.models.changes import LocalTicket
from workflows.changes.flows import apply_tracker_update
from workflows.changes.lifecycle import TICKET_MOVERS, TICKETS, TicketStatus
from workflows.changes.tracker import TrackerUpdate
from workflows.kernel.access import Allowed, require
from workflows.kernel.actors import Actor
from workflows.kernel.steps import run_step
from workflows.kernel.ui import Outcome
from workflows.kernel.work import Context, Work

# The words ``/isms ticket`` understands: status and resolution, as a Jira workflow would set them.
MOVES: dict[str, tuple[TicketStatus, str | None]] = {
    "todo": (TicketStatus.TO_DO, None),
    "progress": (TicketStatus.IN_PROGRESS, None),
    "done": (TicketStatus.DONE, "Done"),
    "wontdo": (TicketStatus.DONE, "Won't Do"),
}
COMMENT_LIMIT = 2000
MOVING = "moving local tickets"


@dataclass(frozen=True)
class TicketMove:
    key: str
    move: str
    comment: str


def parse_move(text: str) -> TicketMove | str:
    """``LOCAL-1 done It is in place`` -> TicketMove, or what to type instead."""
    parts = text.split(maxsplit=2)
    if len(parts) < 2 or parts[1].lower() not in MOVES:
        return f"Usage: /isms ticket LOCAL-<n> {'|'.join(MOVES)} [comment]"
    comment = parts[2].strip() if len(parts) > 2 else ""
    if len(comment) > COMMENT_LIMIT:
        return f"Please keep the comment under {COMMENT_LIMIT} characters."
    return TicketMove(parts[0].upper(), parts[1].lower(), comment)


def move_ticket(ctx: Context, actor: Actor, text: str, key: str) -> Outcome:
    """Move a local ticket; the change follows the status mapping."""
    move = parse_move(text)
    if isinstance(move, str):
        require(ctx, actor, TICKET_MOVERS, process="IMP", what=MOVING)  # deny by default, before explaining
        return Outcome.say(move)
    status, resolution = MOVES[move.move]

    def step(work: Work, ticket: LocalTicket) -> Outcome:
        # Updates apply only when newer than the last one; two moves in the same instant must still both count.
        updated = max(work.now, ticket.updated_at + timedelta(microseconds=1))
        ticket.resolution, ticket.updated_at = resolution, updated
        if move.comment:
            ticket.comment = "\n".join(filter(None, (ticket.comment, f"{actor.name}: {move.comment}")))
        apply_tracker_update(
            work, TrackerUpdate(ticket.key, status, updated, resolution, move.comment or None, actor.name)
        )
        ending = f" (resolution: {resolution})." if resolution else "."
        return Outcome.say(f"{ticket.key} ({ticket.change_ref}) is now {status}{ending}")

    return run_step(
        ctx,
        actor,
        TICKETS,
        move.key,
        key=key,
        what=MOVING,
        allowed=Allowed(TICKET_MOVERS),
        step=step,
        to=status,
        again=Outcome.say(f"{move.key} was already moved."),
    )
