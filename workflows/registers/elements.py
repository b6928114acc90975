"""Register items as the elements other processes refer to: the matches a search field offers while a
person types (a change's affected element), and the item a picked value names.

A picked value is ``<kind>:<id>`` (``asset:AS-003``): stable while the item's title changes, short
enough for Slack's option values, and what the console accepts typed in full.

Who sees what: ids and titles of controls, assets, suppliers, requirements and interested parties are
names of things, not secrets (the same names appear in policies, tickets and the SoA), and a person
must be able to name an asset they do not own to ask for a change on it, so every member sees them.
A risk's title describes a weakness, so risks are offered only to overseers and to the risk's owner.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from storage.models.registers import RegisterItem
from workflows.kernel.access import EVERYONE, require
from workflows.kernel.actors import Actor
from workflows.kernel.people import person_name
from workflows.kernel.work import Context
from workflows.registers.kinds import KINDS
from workflows.registers.lifecycle import OVERSEERS, load_item

SOURCE = "registers"
"""The name search fields use for the registers (``FormField(source=SOURCE)``)."""
LIMIT = 100  # Slack shows at most 100 options
LABEL = 75  # ... each at most 75 characters


def value_of(item: RegisterItem) -> str:
    return f"{item.kind}:{item.ref}"


def picked(session: Session, actor: Actor, value: str) -> RegisterItem | None:
    """The item a picked value names, if it exists and the person may pick it."""
    kind, sep, ref = value.strip().partition(":")
    if not sep or kind not in KINDS or not ref.strip():
        return None
    item = load_item(session, kind, ref.strip())
    if item is None or not _may_pick(actor, item):
        return None
    return item


def _may_pick(actor: Actor, item: RegisterItem) -> bool:
    return item.kind != "risk" or item.owner == actor.id or actor.has(*OVERSEERS)


def suggest(ctx: Context, actor: Actor, query: str) -> list[tuple[str, str]]:
    """Up to 100 items whose id or title holds every word typed, as (value, label) in id order; a
    typed ``asset:AS-003`` finds that item alone."""
    require(ctx, actor, EVERYONE, process="RT", what="searching the registers", attempt=False)
    words = query.lower().split()[:5]
    if not words:
        return []
    with ctx.read() as session:
        exact = picked(session, actor, query) if len(words) == 1 else None
        if exact is not None:
            return [(value_of(exact), label(ctx, exact))]
        query_ = select(RegisterItem).where(*_matching(words), *_visible(actor))
        items = session.scalars(query_.order_by(RegisterItem.ref, RegisterItem.kind).limit(LIMIT)).all()
        return [(value_of(item), label(ctx, item)) for item in items]


def _matching(words: list[str]) -> list[ColumnElement[bool]]:
    return [
        or_(
            func.lower(RegisterItem.ref).contains(word, autoescape=True),
            func.lower(RegisterItem.title).contains(word, autoescape=True),
        )
        for word in words
    ]


def _visible(actor: Actor) -> list[ColumnElement[bool]]:
    if actor.has(*OVERSEERS):
        return []
    return [or_(RegisterItem.kind != "risk", RegisterItem.owner == actor.id)]


def label(ctx: Context, item: RegisterItem) -> str:
    """ "AS-003 · Customer database (asset, owner Olga Owens)" within 75 characters: the title is cut
    first, so the id, the kind and the owner always show."""
    owner = f", owner {person_name(ctx.org, item.owner)}" if item.owner else ""
    tail = f" ({item.kind}{owner})"
    head = f"{item.ref} · "
    room = LABEL - len(head) - len(tail)
    title = item.title if len(item.title) <= room else item.title[: max(room - 1, 0)] + "…"
    return (head + title + tail)[:LABEL]


def element_text(item: RegisterItem, limit: int) -> str:
    """How a change stores the element: "asset: AS-003 Customer database", which names the item for
    people and for ``owner_of_element`` alike."""
    return f"{item.kind}: {item.ref} {item.title}"[:limit]
