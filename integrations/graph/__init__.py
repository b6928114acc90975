"""Microsoft 365 through msal and Microsoft Graph: the directory, mail and calendar.

``start(settings, org)`` signs in once at start-up: wrong credentials or tenant give one log line
naming the setting and Microsoft's AADSTS code, and the bot runs on with Microsoft 365 switched off.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import requests

from config.organisation import Organisation
from config.settings import Settings
from integrations.graph.calendar import GraphCalendarSender
from integrations.graph.client import GraphAuthError, GraphClient, GraphUnavailable
from integrations.graph.directory import GraphDirectory
from integrations.graph.mail import GraphMailSender
from storage.outbox import Effect, RetryLater, Sender, Undeliverable
from workflows.outreach.calendar import EVENT_KIND
from workflows.outreach.mail import MAIL_KIND

log = logging.getLogger(__name__)


def missing_settings(settings: Settings) -> list[str]:
    missing = [
        name
        for name, value in (
            ("MSGRAPH_TENANT_ID", settings.msgraph_tenant_id),
            ("MSGRAPH_CLIENT_ID", settings.msgraph_client_id),
        )
        if not value
    ]
    if not settings.msgraph_client_secret and not settings.msgraph_client_certificate:
        missing.append("MSGRAPH_CLIENT_SECRET or MSGRAPH_CLIENT_CERTIFICATE")
    return missing


@dataclass
class Microsoft365:
    """What the runtime plugs in: the client (None when not configured), the directory (None when
    switched off) and why it is off."""

    client: GraphClient | None = None
    directory: GraphDirectory | None = None
    problem: str | None = None

    @property
    def active(self) -> bool:
        return self.directory is not None


def credential_of(settings: Settings) -> str | dict[str, str]:
    """The client secret, or the certificate (a PEM file with the private key and the certificate:
    msal signs its assertion and sends the certificate's SHA-256 thumbprint)."""
    if settings.msgraph_client_certificate is not None:
        try:
            pem = settings.msgraph_client_certificate.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as error:
            raise GraphAuthError("MSGRAPH_CLIENT_CERTIFICATE", "no AADSTS code", f"cannot read it: {error}") from None
        if "PRIVATE KEY-----" not in pem or "BEGIN CERTIFICATE-----" not in pem:
            raise GraphAuthError(
                "MSGRAPH_CLIENT_CERTIFICATE", "no AADSTS code", "needs the private key and the certificate, in PEM"
            )
        return {"private_key": pem, "public_certificate": pem}
    assert settings.msgraph_client_secret is not None
    return settings.msgraph_client_secret.get_secret_value()


def client_for(settings: Settings, session: requests.Session | None = None) -> GraphClient:
    assert settings.msgraph_tenant_id and settings.msgraph_client_id
    return GraphClient(
        tenant=settings.msgraph_tenant_id,
        client_id=settings.msgraph_client_id,
        credential=credential_of(settings),
        authority=settings.msgraph_authority,
        graph_url=settings.msgraph_url,
        session=session,
    )


def start(settings: Settings, session: requests.Session | None = None) -> Microsoft365:
    """Sign in once. Not configured: nothing. Refused: one line, switched off. Unreachable: on, with
    the cache for lookups and the outbox for mail and events until Graph answers."""
    if missing_settings(settings):
        return Microsoft365()
    try:
        client = client_for(settings, session)
        client.check()
    except GraphAuthError as error:
        log.error("Microsoft 365 switched off: %s", error)
        return Microsoft365(client=None, problem=str(error))
    except GraphUnavailable as error:
        log.warning(
            "Microsoft 365 not reachable at start (%s): directory lookups use the cache, mail and events wait", error
        )
    return Microsoft365(client=client, directory=GraphDirectory(client))


def mailbox_of(org: Organisation) -> str | None:
    mailbox = org.microsoft365.mailbox
    if mailbox is None or "@" in mailbox:
        return mailbox
    person = org.person(mailbox)
    return str(person.email) if person is not None and person.email else None


def graph_senders(m365: Microsoft365, org: Organisation, clock: Callable[[], datetime]) -> dict[str, Sender]:
    """Senders of ``mail.send`` and ``calendar.event``; without a working Microsoft 365 they say why."""
    mailbox = mailbox_of(org)
    if m365.client is not None and mailbox is not None:
        return {
            MAIL_KIND: GraphMailSender(m365.client, mailbox, clock),
            EVENT_KIND: GraphCalendarSender(m365.client, mailbox),
        }
    if m365.problem is not None:
        reason = f"Microsoft 365 is switched off: {m365.problem}"

        def waiting(effect: Effect) -> None:
            raise RetryLater(reason, maybe_delivered=False)

        return {MAIL_KIND: waiting, EVENT_KIND: waiting}
    reason = "Microsoft 365 is not configured (MSGRAPH_*)" if m365.client is None else "microsoft365.mailbox is not set"

    def refused(effect: Effect) -> None:
        raise Undeliverable(reason)

    return {MAIL_KIND: refused, EVENT_KIND: refused}
