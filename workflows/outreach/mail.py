"""Mail as an outbox effect: rendered here (HTML with Jinja's autoescape, and a text part) so what
is sent is fixed when the step commits; sent by ``integrations/graph/mail.py`` through ``sendMail``."""

from __future__ import annotations

from typing import Any

from config.organisation import Organisation
from workflows.kernel.access import Refused
from workflows.kernel.recipients import Recipient
from workflows.kernel.ui import Message
from workflows.kernel.work import Work

MAIL_KIND = "mail.send"
MAX_RECIPIENTS = 50


def address_of(org: Organisation, to: Recipient) -> str | None:
    """The e-mail address of a listed person or an e-mail recipient; None for anything else."""
    if to.kind == "email":
        return to.id
    if to.kind == "person":
        person = org.person(to.id)
        return str(person.email) if person is not None and person.email else None
    return None


def send_mail(
    work: Work, to: Recipient | list[Recipient], message: Message, key: str, *, template: str = "mail"
) -> None:
    """Queue one mail to ``to`` under the idempotency ``key``: subject = the message's headline, body
    from ``<template>.html`` (autoescaped) and ``<template>.txt.j2``. A recipient without an e-mail
    address is refused (the caller chose mail, so this is its mistake, shown to the person)."""
    recipients = to if isinstance(to, list) else [to]
    addresses = []
    for recipient in recipients:
        address = address_of(work.ctx.org, recipient)
        if address is None:
            raise Refused(f"There is no e-mail address for {recipient}.")
        addresses.append(address)
    if not addresses or len(addresses) > MAX_RECIPIENTS:
        raise Refused(f"A mail goes to 1 to {MAX_RECIPIENTS} people.")
    values: dict[str, Any] = {
        "organisation": work.ctx.org.name,
        "subject": message.text,
        "body": message.body,
        "fields": list(message.fields),
        "footer": message.footer,
        "key": key,
    }
    templates = work.ctx.templates
    work.effect(
        MAIL_KIND,
        key,
        {
            "to": ",".join(sorted(addresses)),
            "recipients": addresses,
            "subject": message.text[:250],
            "html": templates.html(f"{template}.html", **values),
            "text": templates.text(f"{template}.txt.j2", **values),
        },
    )


def reach(work: Work, person_id: str, message: Message, key: str) -> str:
    """A DM in Slack for people Slack knows, else a mail: returns ``"chat"`` or ``"mail"``."""
    person = work.ctx.org.person(person_id)
    if person is not None and person.slack_id is None and person.email is not None:
        send_mail(work, Recipient.person(person_id), message, key)
        return "mail"
    work.notify(Recipient.person(person_id), message, key)
    return "chat"
