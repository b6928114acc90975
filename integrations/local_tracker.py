"""The local tracker: tickets in the records store, used when Jira is not configured.

It gives the embedded default the same change lifecycle as Jira: approval opens a ticket
(``LOCAL-1``, ``LOCAL-2``...), the ISMS manager moves it with ``/isms ticket LOCAL-1 done <comment>``,
and the status mapping of the organisation file turns that into change states exactly as it does
for Jira statuses. Its senders run in the outbox like Jira's, so the flow, records and messages are
the same; they only never fail for outside reasons. Moving a ticket is a person's step of the
change process, in workflows/changes/tickets.py.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from storage.counters import next_number
from storage.models.changes import LocalTicket
from storage.outbox import Effect, RetryLater, Sender
from workflows.changes import tracker as change_tracker
from workflows.changes.flows import link_tracker
from workflows.changes.lifecycle import TicketStatus
from workflows.kernel.actors import SYSTEM
from workflows.kernel.work import Context

TRACKER = "local"


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
                    status=TicketStatus.TO_DO,
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
