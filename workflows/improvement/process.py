"""Process IMPR (information security improvement, 27001 10.1 and 10.2): the improvement register."""

from __future__ import annotations

from workflows.improvement import flows, routes, service
from workflows.kernel.access import EVERYONE
from workflows.kernel.process import HelpEntry, Process

PROCESS = Process(
    id="IMPR",
    routes=routes.register,
    help=(
        HelpEntry("/isms suggest <text>", "Suggest an improvement to the ISMS", EVERYONE),
        HelpEntry(
            "/isms improvements",
            "Your suggestions and what became of them (the whole register for the ISMS manager, auditors "
            "and management; the ISMS manager decides from the DM or the App Home)",
            EVERYONE,
        ),
    ),
    home=service.home_items,
    status=service.status_lines,
    receives={
        "change-status": flows.change_status,
        "change-finished": flows.change_finished,
        "audit-finding": flows.take_finding,
        "finding-closed": flows.finding_closed,
        "metric-breach": flows.take_metric_breach,
    },
)
