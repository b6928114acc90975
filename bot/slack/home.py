"""Publishing a person's App Home: when they open it, and again after they act on it.

The Home is a view of the current state, rebuilt whole from the database every time it is published
(``views.publish`` replaces it), so it is published inline rather than through the outbox:

- nothing can be lost: the stored change is the truth and every opening of the Home publishes it
  again, whereas an outbox effect would either carry a snapshot that may be stale by the time a
  throttled send goes out, or need a sender with the whole workflow context to rebuild it;
- the outbox's guarantee matters for messages a person would otherwise never see; a Home that failed
  to refresh is shown fresh the next time it is opened.

After an action the Home is published again only when the person acted on the Home itself (a button
there) or submitted a form (which may have been opened from there): an action in a DM leaves the Home
to be rebuilt when it is next opened. A failed publish is logged, never raised into the listener.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient

from bot.slack.blocks import home_view
from integrations.slack_sender import slack_call
from storage.outbox import RetryLater, Undeliverable
from workflows.common.home import home
from workflows.kernel.actors import Actor
from workflows.kernel.work import Context

log = logging.getLogger(__name__)


def publish_home(ctx: Context, client: WebClient, user_id: str, actor: Actor) -> bool:
    """Build and publish ``actor``'s Home; True if Slack took it."""
    try:
        slack_call(client.views_publish, user_id=user_id, view=home_view(home(ctx, actor)))
    except (RetryLater, Undeliverable) as error:
        log.warning("views.publish for the App Home failed (%s); it is rebuilt when next opened", error)
        return False
    return True


def acted_on_home(body: dict[str, Any]) -> bool:
    """The action came from a button on the App Home (its container is the Home view)."""
    view = body.get("view") or {}
    return isinstance(view, dict) and view.get("type") == "home"


def refresh_after(
    ctx: Context, client: WebClient, body: dict[str, Any], actor_of: Callable[[str], Actor], *, always: bool = False
) -> None:
    """After a person's action: publish their Home again when they acted on it (or ``always``, for a
    form submission)."""
    user_id = (body.get("user") or {}).get("id")
    if user_id and (always or acted_on_home(body)):
        publish_home(ctx, client, user_id, actor_of(user_id))
