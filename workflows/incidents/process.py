"""Process INC (information security incident management): what it adds to the bot."""

from __future__ import annotations

from workflows.incidents import flows, lifecycle, rooms, routes, scheduled, service
from workflows.kernel.access import EVERYONE
from workflows.kernel.process import HelpEntry, Process

PROCESS = Process(
    id="INC",
    routes=routes.register,
    help=(
        HelpEntry("/incident", "Report a security incident (opens a form)", EVERYONE),
        HelpEntry("/incident <what happened>", "Report an incident in one line", EVERYONE),
        HelpEntry(
            "Report security incident (message shortcut, under ⋮ on any message)",
            "Report that message as an incident",
            EVERYONE,
        ),
        HelpEntry("/incident mine", "Your incident reports and their status", EVERYONE),
        HelpEntry("/incident help", "What /incident can do", EVERYONE),
        HelpEntry("/isms incidents", "Open incidents, running regulatory clocks first", lifecycle.VIEWER_ROLES),
        HelpEntry("/incident timeline INC-…", "An incident's timeline, oldest first", lifecycle.VIEWER_ROLES),
        HelpEntry(
            "/incident report INC-…",
            "The post-incident report (Markdown and HTML), stored and posted",
            lifecycle.VIEWER_ROLES,
        ),
        HelpEntry(
            "Add to incident timeline (message shortcut)",
            "Add a message to an incident's timeline with its author and time",
            lifecycle.TRIAGE_ROLES,
        ),
        HelpEntry(
            "/isms incidents all [PERIOD]",
            "Reports open and closed, reported in a period (2026-Q4, since 2026-10-01)",
            lifecycle.VIEWER_ROLES,
        ),
    ),
    due=(scheduled.send_due_reminders, rooms.collect_rooms, rooms.archive_rooms),
    home=service.home_items,
    status=rooms.status_lines,
    receives={"change-status": flows.change_status, "change-finished": flows.change_finished},
)
