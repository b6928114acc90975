"""Process CHG (information security change management, with IMP's verification): what it adds."""

from __future__ import annotations

from config.organisation import Role
from workflows.changes import chat, routes, tracker
from workflows.kernel.access import EVERYONE
from workflows.kernel.process import HelpEntry, Process

PROCESS = Process(
    id="CHG",
    routes=routes.register,
    help=(
        HelpEntry("/isms change", "Request a change to the ISMS (opens a form)", EVERYONE),
        HelpEntry("/isms changes", "Open changes with their state and tracker issue", EVERYONE),
        HelpEntry(
            "/isms ticket LOCAL-<n> todo|progress|done|wontdo [comment]",
            "Move a local tracker ticket (when Jira is not configured)",
            frozenset({Role.ISMS_MANAGER}),
        ),
    ),
    due=(tracker.queue_poll,),
    home=chat.home_items,
)
