"""Process AWR (awareness and competence): training and policy-acknowledgement campaigns."""

from __future__ import annotations

from workflows.awareness import flows, routes, scheduled, service
from workflows.awareness.lifecycle import ORGANISERS, OVERSEERS, PROCESS_ID
from workflows.kernel.process import HelpEntry, Process

PROCESS = Process(
    id=PROCESS_ID,
    routes=routes.register,
    help=(
        HelpEntry("/isms campaign new", "Start a training or policy acknowledgement campaign (a form)", ORGANISERS),
        HelpEntry("/isms campaign close AWR-n <why>", "End a campaign early: no more reminders", ORGANISERS),
        HelpEntry(
            "/isms campaigns [AWR-n]", "Completion per campaign, department and overall; who is missing", OVERSEERS
        ),
    ),
    due=(scheduled.remind, scheduled.digest),
    home=service.home_items,
    status=service.status_lines,
    receives={"policy-approved": flows.take_policy},
)
