"""Process AUD (internal audit, 27001 9.2): the audit programme, findings and reports."""

from __future__ import annotations

from workflows.audits import flows, routes, scheduled, service
from workflows.audits.lifecycle import PLANNERS
from workflows.kernel.access import EVERYONE
from workflows.kernel.process import HelpEntry, Process

PROCESS = Process(
    id="AUD",
    routes=routes.register,
    help=(
        HelpEntry("/isms audit new", "Plan an internal audit (opens a form)", PLANNERS),
        HelpEntry("/isms audits", "The audit programme: scope, auditors, dates, findings", EVERYONE),
        HelpEntry("/isms finding", "Record a finding on an audit you audit (opens a form)", EVERYONE),
        HelpEntry("/isms finding close <finding>", "Close an observation or opportunity", EVERYONE),
        HelpEntry("/isms audit ask <audit> <auditee> <what>", "Ask an auditee for more evidence", EVERYONE),
        HelpEntry("/isms audit report <audit>", "Mark an audit you audit reported; the report is posted", EVERYONE),
        HelpEntry("/isms audit move <audit> <YYYY-MM-DD>", "Give a planned audit a new kick-off date", PLANNERS),
        HelpEntry("/isms audit cancel <audit> <why>", "Cancel a planned or running audit", PLANNERS),
    ),
    due=(scheduled.due_audits,),
    home=service.home_items,
    status=service.status_lines,
    receives={"change-status": flows.change_status, "change-finished": flows.change_finished},
)
