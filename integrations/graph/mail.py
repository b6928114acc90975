"""The outbox sender of ``mail.send``: Graph's ``sendMail`` from the configured mailbox, once.

The mail goes as MIME (``multipart/alternative``: the text part and the autoescaped HTML part; the
JSON form of sendMail carries only one body) with a ``Message-ID`` derived from the outbox key and the
key itself in ``X-ISMS-Outbox-Key``. sendMail answers 202 and returns nothing, and has no
``transactionId``: when an earlier attempt may have reached Graph without an answer (a timeout, a
5xx, a dropped connection), the sender looks in the mailbox's Sent Items for that Message-ID before
sending again, and adopts the copy it finds. Exchange files the copy shortly after sending, so a
retry within ``SENT_ITEMS_LAG`` of the unsure attempt waits (Retry-After) rather than concluding
"not sent" too early; after that a mail not found is sent again (at least once, never lost).
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from integrations.graph.client import GraphClient, GraphError
from integrations.graph.errors import for_outbox
from storage.outbox import Effect, RetryLater

log = logging.getLogger(__name__)

SENT_ITEMS_LAG = timedelta(minutes=2)
KEY_HEADER = "X-ISMS-Outbox-Key"


def message_id(key: str) -> str:
    """The mail's Message-ID, the same for every attempt of one outbox effect."""
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:40]}@isms-bot.outbox>"


def mime(key: str, sender: str, payload: Mapping[str, Any]) -> bytes:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = ", ".join(payload["recipients"])
    mail["Subject"] = payload["subject"]
    if payload.get("reply_to"):
        mail["Reply-To"] = payload["reply_to"]
    mail["Date"] = formatdate(usegmt=True)
    mail["Message-ID"] = message_id(key)
    mail[KEY_HEADER] = key
    mail.set_content(payload["text"])
    mail.add_alternative(payload["html"], subtype="html")
    return bytes(mail)


class GraphMailSender:
    def __init__(
        self, client: GraphClient, mailbox: str, clock: Callable[[], datetime], lag: timedelta = SENT_ITEMS_LAG
    ):
        self._client = client
        self._mailbox = mailbox
        self._clock = clock
        self._lag = lag

    def __call__(self, effect: Effect) -> dict[str, Any]:
        ident = message_id(effect.key)
        try:
            if effect.unsure_since is not None:
                found = self.find_sent(ident)
                if found is not None:
                    log.info("mail %s was already sent (%s); adopting it", effect.key, found)
                    return {"message_id": ident, "sent_item": found}
                waited = self._clock() - effect.unsure_since
                if waited < self._lag:
                    left = (self._lag - waited).total_seconds()
                    raise RetryLater(f"mail {effect.key} may be on its way; looking again in {left:.0f} s", left)
                log.warning("no sent copy of mail %s %s after its unsure attempt: sending again", effect.key, ident)
            body = base64.b64encode(mime(effect.key, self._mailbox, effect.payload))
            self._client.request(
                "POST", f"/users/{self._mailbox}/sendMail", data=body, headers={"Content-Type": "text/plain"}
            )
        except GraphError as error:
            raise for_outbox(error) from None
        return {"message_id": ident}

    def find_sent(self, ident: str) -> str | None:
        page = self._client.get(
            f"/users/{self._mailbox}/mailFolders/sentitems/messages",
            {"$filter": f"internetMessageId eq '{ident}'", "$select": "id"},
        )
        found = page.get("value") or []
        return str(found[0]["id"]) if found else None
