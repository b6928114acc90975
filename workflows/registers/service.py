"""What the registers answer: a register's list (filtered, one page at a time), one item with its
history, the rows of an export, and the lines for ``/isms status``."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from storage.models.records import Record
from storage.models.registers import RegisterItem
from workflows.kernel.access import EVERYONE, Allowed, Refused, require
from workflows.kernel.actors import Actor
from workflows.kernel.paging import HOME_ITEMS, offset_of, window
from workflows.kernel.people import find_person, plural
from workflows.kernel.ui import Message, Outcome
from workflows.kernel.work import Context
from workflows.registers import messages
from workflows.registers.kinds import KINDS, Kind, Value
from workflows.registers.lifecycle import OVERSEERS, STEWARDS, RiskState, load_item, values_of


@dataclass(frozen=True)
class Filters:
    owner: str | None = None
    status: str | None = None
    words: str = ""

    def __str__(self) -> str:
        parts = [
            f"owner:{self.owner}" if self.owner else "",
            f"status:{self.status}" if self.status else "",
            self.words,
        ]
        return " ".join(part for part in parts if part)


def parse_filters(ctx: Context, kind: Kind, text: str) -> Filters:
    """``owner:@olga status:open laptop`` (in any order); a trailing page offset is not a word."""
    owner = status = None
    words = []
    tokens = text.split()
    if tokens and tokens[-1].isdigit():
        tokens.pop()
    for token in tokens:
        key, sep, value = token.partition(":")
        if sep and key.lower() == "owner":
            owner = _owner(ctx, value)
        elif sep and key.lower() == "status":
            status = value.lower()
            if status not in kind.statuses:
                raise Refused(
                    f"{kind.plural.capitalize()} have no status {value!r}; use one of {', '.join(kind.statuses)}."
                )
        else:
            words.append(token)
    return Filters(owner, status, " ".join(words)[:100])


def _owner(ctx: Context, value: str) -> str:
    """A person typed as ``@olga``, a Slack mention ``<@U0OLGA|olga>``, a person id or an e-mail."""
    cleaned = value.strip().removeprefix("<").removesuffix(">").removeprefix("@").split("|")[0]
    person = find_person(ctx.org, cleaned) or find_person(ctx.org, cleaned.lower())
    if person is None:
        raise Refused(f"I know nobody called {value!r}; write owner:@<person id> or owner:<e-mail>.")
    return person.id


def _conditions(kind: Kind, filters: Filters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [RegisterItem.kind == kind.name]
    if filters.owner:
        conditions.append(RegisterItem.owner == filters.owner)
    if filters.status:
        conditions.append(RegisterItem.status == filters.status)
    if filters.words:
        needle = filters.words.lower()
        conditions.append(
            or_(
                func.lower(RegisterItem.title).contains(needle, autoescape=True),
                func.lower(RegisterItem.ref).contains(needle, autoescape=True),
            )
        )
    return conditions


def list_items(ctx: Context, actor: Actor, kind: Kind, text: str, offset: int | None = None) -> Outcome:
    """``/isms risks [owner:@x] [status:y] [words]``: counts by status, then one page; everything for
    overseers, a person's own items otherwise."""
    require(ctx, actor, EVERYONE, process=kind.process, what=f"listing {kind.plural}", attempt=False)
    filters = parse_filters(ctx, kind, text)
    mine_only = not actor.has(*OVERSEERS)
    if mine_only:
        filters = Filters(actor.id, filters.status, filters.words)
    where = _conditions(kind, filters)
    with ctx.read() as session:
        by_status = {
            str(status): int(count)
            for status, count in session.execute(
                select(RegisterItem.status, func.count()).where(*where).group_by(RegisterItem.status)
            )
        }
        page = window(sum(by_status.values()), offset_of(text) if offset is None else offset)
        items = list(
            session.scalars(
                select(RegisterItem).where(*where).order_by(RegisterItem.ref).offset(page.offset).limit(page.size)
            )
        )
    shown = Filters(None if mine_only else filters.owner, filters.status, filters.words)
    name = f"{kind.name} {shown}".strip()
    return Outcome(
        reply=messages.item_list(
            ctx.org, kind, items, by_status, page, name=name, mine_only=mine_only, filters=str(shown)
        )
    )


def history(
    session: Session, item: RegisterItem, limit: int = messages.HISTORY_SHOWN
) -> list[tuple[datetime, str, str, dict[str, Any]]]:
    """The item's latest records, newest first."""
    rows = session.execute(
        select(Record.at, Record.actor, Record.action, Record.data)
        .where(Record.subject_type == item.kind, Record.subject_id == item.ref)
        .order_by(Record.seq.desc())
        .limit(limit)
    )
    return [(at, actor, action, json.loads(data) if data else {}) for at, actor, action, data in rows]


def show_item(ctx: Context, actor: Actor, kind: Kind, ref: str) -> Outcome:
    """``/isms risk R-001``: the item with its history, for its owner and overseers."""
    if not ref.strip():
        raise Refused(f"Which {kind.name}? Write /isms {kind.name} <id>, or /isms {kind.plural} for the list.")
    with ctx.read() as session:
        item = load_item(session, kind.name, ref)
        if item is None:
            raise Refused(f"There is no {kind.name} {ref.strip()[:64]} in the {kind.name} register.")
        require(
            ctx,
            actor,
            Allowed(OVERSEERS, owner=item.owner),
            process=kind.process,
            what=f"{kind.name} {item.ref}",
            subject=(kind.name, item.ref),
        )
        may_act = actor.id == item.owner or actor.has(*STEWARDS)
        return Outcome(reply=messages.item_view(ctx.org, item, history(session, item), may_act=may_act))


ELEMENT = re.compile(r"^\s*(risk|control|asset|supplier|requirement|party)\s*:?\s+([A-Za-z0-9][A-Za-z0-9._-]{0,63})")
"""A change's affected element naming a register item: "asset: AS-001 Staff laptops", "risk R-002"."""


def owner_of_element(session: Session, element: str) -> str | None:
    """The owner of the register item a change's affected element names, if it names one that has an
    owner: that person, not the requester, verifies the change (IMP)."""
    found = ELEMENT.match(element)
    if found is None:
        return None
    item = load_item(session, found.group(1), found.group(2).rstrip(".,;:"))
    return item.owner if item is not None else None


def export_rows(session: Session, kind: Kind) -> Iterator[dict[str, Value]]:
    """Every item of the register in id order, as the import's columns."""
    query = select(RegisterItem).where(RegisterItem.kind == kind.name).order_by(RegisterItem.ref)
    for item in session.scalars(query.execution_options(yield_per=1000)):
        yield values_of(kind, item)


def home_items(ctx: Context, actor: Actor) -> list[Message]:
    """The App Home: this person's risks above appetite that wait for their acceptance or plan."""
    waiting = [
        RegisterItem.kind == "risk",
        RegisterItem.owner == actor.id,
        RegisterItem.status == RiskState.OPEN,
        RegisterItem.level > ctx.org.registers.appetite,
    ]
    with ctx.read() as session:
        count = session.scalar(select(func.count()).select_from(RegisterItem).where(*waiting)) or 0
        items = list(session.scalars(select(RegisterItem).where(*waiting).order_by(RegisterItem.ref).limit(HOME_ITEMS)))
    shown = [messages.decision_needed(ctx.org, item, "It is yours.") for item in items]
    if count > len(items):
        shown.append(
            Message(text=f"{count:,} of your risks wait for a decision; these are the first {len(items)}. /isms risks")
        )
    return shown


def status_lines(session: Session, ctx: Context, now: datetime) -> list[str]:
    """``/isms status``: each register's size, risks above appetite waiting for a decision, applicable
    controls without an evidence activity."""
    counts = dict(session.execute(select(RegisterItem.kind, func.count()).group_by(RegisterItem.kind)).all())
    if not counts:
        return ["No registers imported yet (isms-bot registers import KIND FILE)."]
    sizes = (plural(counts[name], name, kind.plural) for name, kind in KINDS.items() if counts.get(name))
    lines = ["Registers: " + ", ".join(sizes)]
    undecided = session.scalar(
        select(func.count())
        .select_from(RegisterItem)
        .where(
            RegisterItem.kind == "risk",
            RegisterItem.status == RiskState.OPEN,
            RegisterItem.level > ctx.org.registers.appetite,
        )
    )
    lines.append(f"Risks above appetite without acceptance or plan: {undecided or 0}")
    controls = session.scalars(select(RegisterItem).where(RegisterItem.kind == "control"))
    gaps = sum(
        1 for c in controls if (c.fields or {}).get("applicable") == "yes" and not (c.fields or {}).get("activities")
    )
    lines.append(f"Applicable controls without an evidence activity: {gaps}")
    return lines
