"""The directory (Entra ID through Microsoft Graph): who people are, their roles from group
membership, managers and departments, cached and refreshed by the scheduler. Records go to RES."""

from __future__ import annotations

from config.organisation import Role
from workflows.directory import routes, scheduled
from workflows.kernel.process import HelpEntry, Process

PROCESS = Process(
    id="DIRECTORY",
    routes=routes.register,
    help=(
        HelpEntry(
            "/isms directory",
            "What the bot takes from Entra ID, how old it is, disagreements with the organisation file",
            frozenset({Role.ISMS_MANAGER, Role.AUDITOR}),
        ),
    ),
    due=(scheduled.refresh_directory,),
)
