"""Evidence requests and the recurring activity programme of every process: what they add."""

from __future__ import annotations

from config.organisation import Role
from workflows.evidence import flows, routes
from workflows.kernel.access import EVERYONE
from workflows.kernel.process import HelpEntry, Process

PROCESS = Process(
    id="EVIDENCE",
    routes=routes.register,
    help=(
        HelpEntry("/isms evidence", "Your open evidence requests and their due dates", EVERYONE),
        HelpEntry(
            "/isms evidence all",
            "Open, overdue and rejected evidence requests by process",
            frozenset({Role.ISMS_MANAGER, Role.AUDITOR}),
        ),
    ),
    due=(flows.due_evidence,),
    home=flows.home_items,
)
