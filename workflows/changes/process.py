"""Process CHG (information security change management, with IMP's verification): what it adds."""

from __future__ import annotations

from workflows.changes import routes, scheduled, service
from workflows.changes.lifecycle import TICKET_MOVERS
from workflows.kernel.access import EVERYONE
from workflows.kernel.process import HelpEntry, Process

PROCESS = Process(
    id="CHG",
    routes=routes.register,
    help=(
        HelpEntry("/isms change", "Request a change to the ISMS (opens a form)", EVERYONE),
        HelpEntry("/isms changes", "Open changes with their state and tracker issue", EVERYONE),
        HelpEntry(
            "/isms changes all [PERIOD]",
            "Changes open and closed, requested in a period (2026-Q4, since 2026-10-01)",
            EVERYONE,
        ),
        HelpEntry(
            "/isms ticket LOCAL-<n> todo|progress|done|wontdo [comment]",
            "Move a local tracker ticket (when Jira is not configured)",
            TICKET_MOVERS,
        ),
    ),
    due=(scheduled.queue_poll,),
    home=service.home_items,
)
