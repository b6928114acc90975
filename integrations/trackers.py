"""Which tracker carries change requests: Jira when it is configured, else the local tracker."""

from __future__ import annotations

from config.settings import Settings
from integrations.local_tracker import LocalTracker
from storage.outbox import Sender
from workflows.kernel.work import Context


def tracker_senders(settings: Settings, ctx: Context) -> dict[str, Sender]:
    """The ``tracker.*`` senders for this deployment."""
    if settings.jira_configured:
        # Imported here: the ``jira`` client and its dependencies cost start-up time and memory on every
        # bot, and most run on the local tracker.
        from integrations.jira_tracker import JiraTracker

        return JiraTracker(settings, ctx).senders()
    return LocalTracker(ctx).senders()
