"""Paged lists: every list and status answer shows counts first, then one page, then a "More" button.

Slack takes at most 50 blocks a message, 3,000 characters a section and 100 blocks in a modal or the
App Home; a list of 10,000 items cut to fit would silently show people its first 25 lines. So a list
is never built whole: the process counts what there is (one grouped query), fetches only the page it
shows (``LIMIT``/``OFFSET`` on an indexed order), and hands both to ``page_message``. The "More"
button carries the list's name and the next offset as its value (``evidence.more`` with
``all:20``); each process routes its ``<process>.more`` action through ``more_route``, which calls the
same list function with that offset, so access rules are checked again on every page and a person
paging through their own items only ever sees their own (the value names no owner).

A stale button (the list shrank since: items closed) shows the last page that still exists, saying
so; an empty list says that nothing is open.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from workflows.kernel.access import Refused
from workflows.kernel.actors import Actor
from workflows.kernel.routing import Handler, Request
from workflows.kernel.ui import Button, Message, Outcome
from workflows.kernel.work import Context

PAGE_SIZE = 20
"""Lines a page shows: at most 20 x ``MAX_LINE`` characters, which the renderer fits in a few sections."""
HOME_ITEMS = 5
"""Items a process shows in the App Home before its "More" button (the Home allows 100 blocks in all)."""
MAX_LINE = 280
"""Characters of one line: a long title or summary is cut with an ellipsis, never a whole page of it."""
MAX_OFFSET = 10_000_000

PageFunction = Callable[[Context, Actor, int], Outcome]
"""A list function: ``(ctx, actor, offset) -> Outcome`` showing the page at ``offset``."""


def clip(text: str, limit: int = MAX_LINE) -> str:
    """One line of a list: no line breaks (its indentation kept), at most ``limit`` characters."""
    line = " ".join(text.splitlines()).rstrip()
    return line if len(line) <= limit else line[: limit - 1] + "…"


@dataclass(frozen=True)
class Window:
    """Which part of a list to fetch: ``offset`` and ``size``; ``stale`` when the asked offset was past
    the end (the list shrank since the button was made) and the last page is shown instead."""

    offset: int
    size: int
    total: int
    stale: bool = False


def window(total: int, offset: int, size: int = PAGE_SIZE) -> Window:
    """The page of a list of ``total`` items starting at ``offset``, moved back to the last page when
    ``offset`` is past the end."""
    offset = max(0, offset)
    if total and offset >= total:
        return Window(((total - 1) // size) * size, size, total, stale=True)
    if not total:
        return Window(0, size, 0, stale=offset > 0)
    return Window(offset, size, total)


def more_value(name: str, offset: int) -> str:
    return f"{name}:{offset}"


def parse_more(value: str) -> tuple[str, int]:
    """The list name and offset of a "More" button's value; refused when it is not one."""
    name, _, offset = value.rpartition(":")
    if not name or not offset.isdigit() or int(offset) > MAX_OFFSET:
        raise Refused("That button does not belong to a list I know. Ask for the list again.")
    return name, int(offset)


def page_message(
    *,
    title: str,
    lines: Sequence[str],
    page: Window,
    more: str,
    name: str,
    counts: Sequence[tuple[str, str]] = (),
    note: str = "",
    footer: str = "",
    buttons: Sequence[Button] = (),
    items: int | None = None,
) -> Message:
    """Counts first (``title``, ``counts`` as fields, ``note``), then the page's ``lines``, then where
    this page is in the list and a "More" button (action ``more``) when more follows.

    ``items`` is how many of the list's items the page shows when that differs from its lines (group
    headings between them)."""
    shown_to = page.offset + (len(lines) if items is None else items)
    parts = []
    if page.stale:
        parts.append("The list has changed since that button was made; this is its last page now.")
    if note:
        parts.append(note)
    parts.extend(clip(line) for line in lines)
    where = f"Showing {page.offset + 1}–{shown_to} of {page.total:,}." if lines else ""
    more_buttons: tuple[Button, ...] = ()
    if shown_to < page.total:
        left = page.total - shown_to
        more_buttons = (Button(more, f"More ({left:,} left)", more_value(name, shown_to)),)
    return Message(
        text=title,
        body="\n".join(parts),
        fields=tuple(counts),
        buttons=(*buttons, *more_buttons),
        footer=" ".join(part for part in (where, footer) if part),
    )


def more_route(lists: Mapping[str, PageFunction]) -> Handler:
    """The handler of a process's ``<process>.more`` action: the named list at the button's offset."""

    def more(ctx: Context, request: Request) -> Outcome:
        name, offset = parse_more(request.text)
        show = lists.get(name)
        if show is None:
            raise Refused("That list is no longer available. Ask for it again.")
        return show(ctx, request.actor, offset)

    return more


def offset_of(text: str) -> int:
    """The offset a command may name after the list (``/isms evidence all 40``); 0 when none."""
    last = text.strip().rpartition(" ")[2]
    return min(int(last), MAX_OFFSET) if last.isdigit() else 0
