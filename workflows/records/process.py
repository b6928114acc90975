"""Process REC (records control): the chain linker and its published head, the retention sweep, and the
report of undelivered effects."""

from __future__ import annotations

from config.organisation import Role
from workflows.kernel.process import HelpEntry, Process
from workflows.records import routes, scheduled, service

PROCESS = Process(
    id="REC",
    routes=routes.register,
    help=(HelpEntry("/isms outbox", "Messages and tickets the bot could not deliver", frozenset({Role.ISMS_MANAGER})),),
    due=(scheduled.link_records, scheduled.publish_head, scheduled.sweep_retention),
    status=service.status_lines,
)
