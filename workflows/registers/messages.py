"""What people see of the registers: list lines, one item with its history, the questions to a risk
owner. Built from data; nothing here writes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from config.organisation import Organisation
from storage.models.registers import RegisterItem
from workflows.changes.messages import state_label
from workflows.kernel.actors import SYSTEM
from workflows.kernel.paging import Window, page_message
from workflows.kernel.people import person_name, plural, when
from workflows.kernel.ui import Button, Message
from workflows.registers.flows import CLI
from workflows.registers.kinds import KINDS, Kind
from workflows.registers.lifecycle import RiskState, values_of

MORE = "register.more"
RERATE = "risk.rerate"
ACCEPT = "risk.accept"
PLAN = "risk.plan"
REVIEWED = "supplier.review"
HISTORY_SHOWN = 10


def above_appetite(org: Organisation, item: RegisterItem) -> bool:
    return item.kind == "risk" and item.level is not None and item.level > org.registers.appetite


def needs_decision(org: Organisation, item: RegisterItem) -> bool:
    """Above appetite with neither a running acceptance nor a treatment plan."""
    return above_appetite(org, item) and item.status == RiskState.OPEN


def line(org: Organisation, item: RegisterItem) -> str:
    """One item in a list: id, name, what matters for its kind, status, owner."""
    fields: dict[str, Any] = item.fields or {}
    parts = [item.ref, item.title]
    if item.kind == "risk":
        parts.append(f"level {item.level}" + (" (above appetite)" if above_appetite(org, item) else ""))
    elif item.kind == "control":
        parts.append("applicable" if fields.get("applicable") == "yes" else "not applicable")
    elif item.kind == "supplier":
        parts.append(str(fields.get("criticality")))
    parts.extend([item.status.replace("_", " "), person_name(org, item.owner)])
    return " · ".join(parts)


def item_list(
    org: Organisation,
    kind: Kind,
    items: Sequence[RegisterItem],
    by_status: Mapping[str, int],
    page: Window,
    *,
    name: str,
    mine_only: bool,
    filters: str,
) -> Message:
    total = sum(by_status.values())
    title = f"{'Your ' + kind.plural if mine_only else kind.plural.capitalize()}: {plural(total, kind.name)}"
    if filters:
        title += f" matching {filters}"
    return page_message(
        title=title,
        lines=[line(org, item) for item in items],
        page=page,
        more=MORE,
        name=name,
        counts=tuple((status.replace("_", " "), f"{count:,}") for status, count in sorted(by_status.items())),
        note=""
        if total
        else f"No {kind.plural} found."
        + ("" if filters or mine_only else f" Import them with: isms-bot registers import {kind.name} FILE"),
        footer=f"/isms {kind.name} <id> shows one with its history.",
    )


def item_view(
    org: Organisation,
    item: RegisterItem,
    history: Sequence[tuple[datetime, str, str, dict[str, Any]]],
    *,
    may_act: bool,
) -> Message:
    """One item: every column of its register, the risk's acceptance, its latest records."""
    kind = KINDS[item.kind]
    values = values_of(kind, item)
    fields = [
        (name.replace("_", " "), person_name(org, str(value)) if name == "owner" and value else str(value))
        for name, value in values.items()
        if name not in ("id", kind.title) and value not in (None, "")
    ]
    stored: dict[str, Any] = item.fields or {}
    if item.kind == "risk":
        appetite = org.registers.appetite
        fields.append(("residual level", f"{item.level} (appetite {appetite})"))
        if stored.get("accepted_until"):
            fields.append(
                (
                    "accepted",
                    f"by {person_name(org, stored.get('accepted_by'))} until {stored['accepted_until']}: "
                    f"{stored.get('accepted_reason', '')}",
                )
            )
    lines = [
        f"{when(at, org.zone)} · {_who(org, actor)} · {_event(action, data)}" for at, actor, action, data in history
    ]
    buttons: list[Button] = []
    if may_act and item.kind == "risk" and item.status != RiskState.CLOSED:
        buttons.append(Button(RERATE, "Re-rate", item.ref))
        if needs_decision(org, item):
            buttons.extend(risk_decision_buttons(item.ref))
    if may_act and item.kind == "supplier" and item.status == "active":
        buttons.append(Button(REVIEWED, "Record a review", item.ref))
    # the values come first and the history after, under its own heading: a field list below the
    # history (Slack shows fields after the text) read as the details of the last record
    now = "\n".join(f"{label}: {value}" for label, value in fields)
    history_text = ("History (latest first):\n" + "\n".join(lines)) if lines else "No history recorded yet."
    return Message(
        text=f"{kind.name.capitalize()} {item.ref}: {item.title}",
        body=f"{now}\n\n{history_text}" if now else history_text,
        buttons=tuple(buttons),
    )


def _who(org: Organisation, actor: str) -> str:
    return {CLI.id: CLI.name, SYSTEM.id: SYSTEM.name}.get(actor) or person_name(org, actor)


def _event(action: str, data: dict[str, Any]) -> str:
    """One history line: the owner's decisions say what was decided, not only that something was
    (a record whose data retention erased says only its kind)."""
    if not data:
        return action.replace("-", " ")
    if action == "item-changed":
        return f"{data.get('field')} changed from {data.get('old')} to {data.get('new')}"
    if action == "item-imported":
        return f"imported from {data.get('source', 'a file')}"
    if action == "risk-accepted":
        return f"accepted until {data.get('until')}: {data.get('reason')}"
    if action == "acceptance-expired":
        return f"acceptance until {data.get('until')} ran out"
    if action == "treatment-planned":
        return "treatment planned: " + ", ".join(data.get("changes") or [])
    if action == "treatment-change":
        return f"{data.get('change')} {state_label(str(data.get('state'))).lower()}"
    return action.replace("-", " ")


def risk_decision_buttons(ref: str) -> tuple[Button, ...]:
    return (Button(ACCEPT, "Accept the risk", ref, "primary"), Button(PLAN, "Plan treatment", ref))


def decision_needed(org: Organisation, item: RegisterItem, why: str) -> Message:
    """To the risk owner: the residual level is above appetite; accept it or plan its treatment."""
    return Message(
        text=f"Risk {item.ref} needs your decision: {item.title}",
        body=f"{why} Its residual level is {item.level}, above the appetite of {org.registers.appetite}. "
        "Accept it (with a reason and an expiry date) or plan its treatment; each action of the plan "
        "becomes a request for change.",
        buttons=risk_decision_buttons(item.ref),
    )


def contract_ending(item: RegisterItem, end: str) -> Message:
    """To a supplier's internal owner: the contract ends soon; renew, renegotiate or plan the exit."""
    fields: dict[str, Any] = item.fields or {}
    return Message(
        text=f"The contract with {item.title} ({item.ref}) ends on {end}",
        body=f"{item.title} provides: {fields.get('service', '')}. Criticality: {fields.get('criticality', '')}. "
        "Decide in time whether to renew, renegotiate the security terms or plan the exit, and update "
        "the supplier register.",
    )


def rerate_question(item: RegisterItem, incident: str, assets: Sequence[str]) -> Message:
    """To a risk owner after an incident on the risk's assets (INC -> RA)."""
    return Message(
        text=f"{incident} affected {', '.join(assets)}: does risk {item.ref} need re-rating?",
        body=f"Risk {item.ref} ({item.title}) covers {', '.join(assets)}, which the closed incident {incident} "
        f"named as affected. Its residual level is {item.level}. If the incident shows the risk is likelier "
        "or worse than rated, re-rate it; if the rating still holds, nothing needs doing.",
        buttons=(Button(RERATE, "Re-rate", item.ref),),
    )


def supplier_evidence(organisation: str, item: RegisterItem, review: str, reply_to: str) -> Message:
    """By mail to a supplier's security contact (suppliers are not in the chat): their own evidence."""
    answer = f" to {reply_to}" if reply_to else ""
    return Message(
        text=f"{organisation}: security evidence for our supplier review ({item.ref})",
        body=f"Dear {item.title} team, our review of you as a supplier is due on {review}. Please send your "
        f"current security evidence, such as a certification of your information security management or "
        f"an independent audit report, by reply{answer}.",
    )
