"""Process PERF (performance evaluation): metrics computed from the bot's own tables, thresholds."""

from __future__ import annotations

from workflows.communication.service import OVERSEERS
from workflows.kernel.process import HelpEntry, Process
from workflows.performance import routes, scheduled

PROCESS = Process(
    id="PERF",
    routes=routes.register,
    help=(HelpEntry("/isms metrics [PERIOD]", "Every metric against its threshold (e.g. 2026-Q4)", OVERSEERS),),
    due=(scheduled.check_thresholds,),
)
