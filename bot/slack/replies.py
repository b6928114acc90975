"""Replies to the person who acted: to Slack's ``response_url`` (ephemeral, where they typed) or by DM.

A reply that follows a stored change waits in the outbox as a ``slack.respond`` effect (or a
``chat.message`` DM when the request came without a response URL, e.g. a form submission), so a
Slack 429 or 500 delays it but never loses it. A response URL is good for 30 minutes and 5 posts;
an effect that reaches it later (a long Slack outage) or finds it expired goes out as a DM instead,
with the same outbox key, so the reference still reaches the person.

A reply where nothing was stored (a list, help, a hint) is posted inline, on a pooled keep-alive
connection (``urllib3``), not a new connection per post as Bolt's ``respond()`` opens; if that post
fails it is queued like the others.

Posts to a response URL are at least once: a 500 after Slack showed the message, retried, shows it
again (ephemeral, to that person only). Slack offers no look-up for ephemeral messages.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import urllib3

from storage.outbox import Effect, RetryLater, Sender, Undeliverable
from workflows.kernel.actors import Actor
from workflows.kernel.ui import Message
from workflows.kernel.work import CHAT_KIND, Context, Work

log = logging.getLogger(__name__)

RESPOND_KIND = "slack.respond"
RESPONSE_URL_LIFETIME = 30 * 60
"""Slack accepts posts to a response URL for 30 minutes (and at most 5 of them)."""
GONE = frozenset({"expired_url", "used_url", "invalid_url", "no_service", "no_active_hooks"})
"""Answers of a response URL that no retry can fix: the reply goes by DM instead."""


class Replies:
    """Posts to response URLs on a pooled connection, and sends ``slack.respond`` effects."""

    def __init__(
        self,
        render: Callable[[Message], list[dict[str, Any]]],
        fallback: Callable[[Message], str],
        *,
        timeout: float = 5.0,
        connections: int = 16,
    ):
        self._render = render
        self._fallback = fallback
        self._pool = urllib3.PoolManager(
            num_pools=4, maxsize=connections, retries=False, timeout=urllib3.Timeout(connect=timeout, read=timeout)
        )
        self.dm: Sender | None = None
        """The chat sender a reply falls back to when its response URL is gone (set by the runtime)."""

    def content(self, message: Message) -> dict[str, Any]:
        return {"text": self._fallback(message), "blocks": self._render(message)}

    def post(self, response_url: str, message: Message) -> tuple[int, str, float | None]:
        """One ephemeral post; Slack's HTTP status, its answer and a Retry-After (seconds) if any."""
        body = {"response_type": "ephemeral", "replace_original": False, **self.content(message)}
        answer = self._pool.request(
            "POST",
            response_url,
            body=json.dumps(body).encode(),
            headers={"Content-Type": "application/json; charset=utf-8"},
        )
        retry_after = answer.headers.get("Retry-After")
        return (
            answer.status,
            answer.data.decode("utf-8", "replace").strip(),
            float(retry_after) if retry_after else None,
        )

    def post_now(self, response_url: str, message: Message) -> bool:
        """Post inline; True if Slack took it (the caller queues it otherwise)."""
        try:
            status, _, _ = self.post(response_url, message)
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as error:
            log.warning("inline reply to a response URL failed (%s); queued", type(error).__name__)
            return False
        if status != 200:
            log.warning("inline reply to a response URL answered %s; queued", status)
        return status == 200

    def __call__(self, effect: Effect) -> Mapping[str, Any] | None:
        """The outbox sender of ``slack.respond``."""
        payload = effect.payload
        if time.time() - float(payload["asked_at"]) >= RESPONSE_URL_LIFETIME:
            return self._by_dm(effect, "the response URL has expired")
        try:
            status, text, retry_after = self.post(payload["response_url"], Message.from_dict(payload["message"]))
        except (urllib3.exceptions.NewConnectionError, ConnectionRefusedError) as error:
            raise RetryLater(f"response URL unreachable: {type(error).__name__}", maybe_delivered=False) from None
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise RetryLater(f"response URL failed: {type(error).__name__}") from None
        except ValueError:
            raise Undeliverable("not a URL") from None
        if status == 200:
            return {"via": "response_url"}
        if status == 429:
            raise RetryLater("response URL throttled (429)", retry_after or 1.0, maybe_delivered=False)
        if status >= 500:
            raise RetryLater(f"response URL answered {status}")
        reason = text if text in GONE else f"HTTP {status}"
        return self._by_dm(effect, f"the response URL refused it ({reason})")

    def _by_dm(self, effect: Effect, why: str) -> Mapping[str, Any] | None:
        if self.dm is None:
            raise Undeliverable(f"{why}, and no chat sender to send it by DM")
        log.info("reply %s goes by DM: %s", effect.key, why)
        payload = {"to": effect.payload["to"], "message": effect.payload["message"]}
        return self.dm(Effect(CHAT_KIND, effect.key, payload, effect.attempt, effect.result_of, effect.unsure_since))


def queue_reply(ctx: Context, actor: Actor, key: str, message: Message, response_url: str | None) -> None:
    """Queue the reply to ``actor`` in the outbox under ``key`` (a retried request queues nothing new)."""
    with ctx.work(actor) as work:
        reply_effect(work, actor, key, message, response_url)


def reply_effect(work: Work, actor: Actor, key: str, message: Message, response_url: str | None) -> None:
    """Queue the reply in ``work``'s transaction: to the response URL when there is one, else by DM."""
    if response_url:
        payload = {
            "to": str(actor.recipient),
            "response_url": response_url,
            "message": message.to_dict(),
            "asked_at": time.time(),  # Slack's clock, not the workflow's: the URL expires in real time
        }
        work.effect(RESPOND_KIND, key, payload)
    else:
        work.notify(actor.recipient, message, key)
