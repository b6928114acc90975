"""Process COM (communication): status on request, the weekly digest and the monthly ISMS report."""

from __future__ import annotations

from workflows.communication import flows, routes, scheduled
from workflows.kernel.access import EVERYONE
from workflows.kernel.process import HelpEntry, Process

PROCESS = Process(
    id="COM",
    routes=routes.register,
    help=(
        HelpEntry(
            "/isms status [PROCESS]",
            "Where the ISMS stands (for employees: your own items); a process id shows it in detail",
            EVERYONE,
        ),
        HelpEntry(
            "/isms report [weekly|monthly] [PERIOD]",
            "The weekly or monthly ISMS report (e.g. monthly 2026-11): the summary here, the full report "
            "with charts in your DMs",
            flows.REPORT_READERS,
        ),
    ),
    due=(scheduled.weekly_digest, scheduled.monthly_report),
    home=flows.home_items,
)
