"""Mail as an outbox effect: rendered here (HTML with Jinja's autoescape, and a text part) so what
is sent is fixed when the step commits; sent by ``integrations/graph/mail.py`` through ``sendMail``."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import object_session

from config.organisation import Organisation, Role
from storage.models.outbox import OutboxEffect
from workflows.kernel.access import Refused
from workflows.kernel.actors import SYSTEM
from workflows.kernel.recipients import Recipient
from workflows.kernel.ui import Message
from workflows.kernel.work import CHAT_KIND, Context, Work

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


def answer_contact(org: Organisation) -> tuple[str, str] | None:
    """Who reads the replies to a mail that asks for an answer: the first ISMS manager with an e-mail
    address (name, address). Mail readers cannot press Slack's buttons, so their reply goes to a person
    who records the answer for them in chat; None when nobody has an address."""
    for person in org.people:
        if Role.ISMS_MANAGER in person.roles and person.email:
            return person.name, str(person.email)
    return None


def send_mail(
    work: Work, to: Recipient | list[Recipient], message: Message, key: str, *, template: str = "mail"
) -> None:
    """Queue one mail to ``to`` under the idempotency ``key``: subject = the message's headline, body
    from ``<template>.html`` (autoescaped) and ``<template>.txt.j2``. A recipient without an e-mail
    address is refused (the caller chose mail, so this is its mistake, shown to the person).

    A message with buttons asks for an answer: the mail names no buttons (its reader has none) and
    says to reply instead, with ``Reply-To`` set to the ISMS manager (``answer_contact``)."""
    recipients = to if isinstance(to, list) else [to]
    addresses = []
    for recipient in recipients:
        address = address_of(work.ctx.org, recipient)
        if address is None:
            raise Refused(f"There is no e-mail address for {recipient}.")
        addresses.append(address)
    if not addresses or len(addresses) > MAX_RECIPIENTS:
        raise Refused(f"A mail goes to 1 to {MAX_RECIPIENTS} people.")
    contact = answer_contact(work.ctx.org) if message.buttons else None
    values: dict[str, Any] = {
        "contact": contact[0] if contact else None,
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
            **({"reply_to": contact[1]} if contact else {}),
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


UNREACHABLE_IN_CHAT = frozenset({"users_not_found", "user_not_found", "account_inactive", "user_disabled"})
"""Slack's refusals that mean the person cannot be reached there (no account, deactivated), so a
mail is the way left; other refusals (bad blocks, an archived channel) are not about the person."""


def fallback_key(key: str) -> str:
    return f"mail-instead:{key}"[:200]


def mail_instead_of_dm(ctx: Context, effect: OutboxEffect) -> bool:
    """The dead-letter path of the outbox (``Dispatcher(on_dead=...)``): a DM that Slack refused for
    good because the person is not reachable there becomes one mail to the person's e-mail address.

    Runs in the transaction that marks the DM dead, so the mail is queued (under ``mail-instead:<key>``)
    and recorded (REC ``mailed-instead``) exactly when the DM is given up, once. Returns whether a
    mail was queued. Threaded replies and updates of an earlier message are not mailed."""
    if effect.kind != CHAT_KIND or "thread_of" in effect.payload or "replaces" in effect.payload:
        return False
    error = effect.last_error or ""
    if not error.startswith("undeliverable:") or not any(code in error for code in UNREACHABLE_IN_CHAT):
        return False
    try:
        to = Recipient.parse(str(effect.payload.get("to", "")))
    except ValueError:
        return False
    if to.kind != "person" or address_of(ctx.org, to) is None:
        return False
    session = object_session(effect)
    assert session is not None, "the dispatcher passes effects loaded in its marking transaction"
    work = Work(ctx, session, SYSTEM, ctx.clock())
    send_mail(work, to, Message.from_dict(effect.payload["message"]), fallback_key(effect.key))
    work.record(
        "REC",
        "mailed-instead",
        ("outbox", effect.key),
        {"to": to.id, "why": error.removeprefix("undeliverable: "), "mail": fallback_key(effect.key)},
    )
    work.flush()
    return work.queued > 0
