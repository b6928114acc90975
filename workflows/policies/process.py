"""Process POL (security policy management): the policy register, approval, publication, reviews."""

from __future__ import annotations

from workflows.kernel.process import HelpEntry, Process
from workflows.policies import routes, scheduled, service
from workflows.policies.lifecycle import AUTHORS, PROCESS_ID, READERS

PROCESS = Process(
    id=PROCESS_ID,
    routes=routes.register,
    help=(
        HelpEntry("/isms policy new", "Send a new policy version for approval (a form)", AUTHORS),
        HelpEntry("/isms policies [id]", "The policy register; one policy's versions", READERS),
    ),
    due=(scheduled.due_policies,),
    status=service.status_lines,
    home=service.home_items,
)
