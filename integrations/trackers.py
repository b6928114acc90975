"""Which tracker carries change requests: Jira when it is configured, else the local tracker."""

from __future__ import annotations

from config.settings import Settings
from integrations.jira_tracker import JiraTracker
from integrations.local_tracker import LocalTracker
from storage.outbox import Sender
from workflows.kernel.work import Context


def tracker_senders(settings: Settings, ctx: Context) -> dict[str, Sender]:
    """The ``tracker.*`` senders for this deployment."""
    if settings.jira_configured:
        return JiraTracker(settings, ctx).senders()
    return LocalTracker(ctx).senders()
