"""Evidence requests and the recurring activity programme of every process: what they add.

The programme serves every process of the catalogue, so the descriptor names itself ``EVIDENCE``;
each request's records name the process it is evidence for (``RA``, ``SUP``, ...).
"""

from __future__ import annotations

from workflows.evidence import routes, scheduled, service
from workflows.evidence.lifecycle import READERS
from workflows.kernel.access import EVERYONE
from workflows.kernel.process import HelpEntry, Process

PROCESS = Process(
    id="EVIDENCE",
    routes=routes.register,
    help=(
        HelpEntry("/isms evidence", "Your open evidence requests and their due dates", EVERYONE),
        HelpEntry("/isms evidence all", "Open, overdue and rejected evidence requests by process", READERS),
    ),
    due=(scheduled.due_evidence,),
    home=service.home_items,
)
