"""The entries every organisation has, outside any one process: help, home, the process catalogue."""

from __future__ import annotations

from workflows.common import routes
from workflows.kernel.access import EVERYONE
from workflows.kernel.process import HelpEntry, Process

PROCESS = Process(
    id="ISMS",
    routes=routes.register,
    help=(
        HelpEntry("/isms help", "What you can do with the ISMS bot", EVERYONE),
        HelpEntry("/isms home", "Your role and your open items (the App Home in Slack)", EVERYONE),
        HelpEntry("/isms processes", "The ISMS processes the bot runs", EVERYONE),
    ),
)
