"""Process REC (records control): the chain linker and its published head, the retention sweep, and the
report of undelivered effects."""

from __future__ import annotations

from config.organisation import Role
from workflows.kernel.process import HelpEntry, Process
from workflows.records import flows, routes, scheduled, service

PROCESS = Process(
    id="REC",
    routes=routes.register,
    help=(
        HelpEntry("/isms outbox", "Messages and tickets the bot could not deliver", frozenset({Role.ISMS_MANAGER})),
        HelpEntry(
            "/isms bundle [PERIOD]",
            "The evidence bundle for auditors (records, registers, evidence, SHA256SUMS) as a zip in your DMs",
            flows.BUNDLE_READERS,
        ),
    ),
    due=(scheduled.link_records, scheduled.publish_head, scheduled.sweep_retention),
    status=service.status_lines,
)
