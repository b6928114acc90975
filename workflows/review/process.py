"""Process GOV (information security governance, its management review): what it adds."""

from __future__ import annotations

from workflows.kernel.process import HelpEntry, Process
from workflows.review import flows, routes, scheduled, service
from workflows.review.lifecycle import ORGANISERS, READERS

PROCESS = Process(
    id="GOV",
    routes=routes.register,
    help=(
        HelpEntry("/isms review new", "Call a management review (opens a form)", ORGANISERS),
        HelpEntry(
            "/isms review decide REV-<year>-<n>",
            "Record a review's decisions and actions (each action becomes a change request)",
            ORGANISERS,
        ),
        HelpEntry(
            "/isms review move REV-<year>-<n> YYYY-MM-DD HH:MM",
            "Move a review (the calendar invitation is updated, not duplicated)",
            ORGANISERS,
        ),
        HelpEntry(
            "/isms review cancel REV-<year>-<n> <why>",
            "Cancel a review (attendees told; the calendar event is cancelled)",
            ORGANISERS,
        ),
        HelpEntry("/isms reviews", "Management reviews with their state and actions", READERS),
    ),
    due=(scheduled.plan_reviews, scheduled.assemble_packs),
    home=service.home_items,
    status=service.status_lines,
    receives={"change-status": flows.take_change_status, "change-finished": flows.take_change_finished},
)
