"""Lists come in pages that fit Slack: counts first, one page, a "More" button with the next offset;
a stale button shows the last page; an employee pages through their own items only."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from sqlalchemy import insert, update

from bot.console import Console
from bot.slack.blocks import MAX_BLOCKS, MAX_SECTION, message_blocks
from storage.models import EvidenceRequest
from tests.world import World, make_world
from workflows.kernel.access import Refused
from workflows.kernel.paging import PAGE_SIZE, more_value, page_message, parse_more, window
from workflows.kernel.ui import Message


@pytest.fixture
def world(settings, clock) -> Iterator[World]:
    world = make_world(settings, clock)
    yield world
    world.close()


def seed(world: World, owner: str, count: int, title: str = "Review the risks you own") -> None:
    now = world.clock()
    rows = [
        {
            "activity_key": f"{owner}/activity",
            "period": f"p-{n}",
            "process": ("RA", "INC", "GOV")[n % 3],
            "title": title,
            "evidence_kind": "text",
            "period_start": date(2026, 10, 1),
            "period_end": date(2026, 12, 31),
            "owner_id": owner,
            "status": "open",
            "due_at": now + timedelta(days=n % 40 - 5),
            "created_at": now,
            "round": 0,
            "step": 1,
            "next_action_at": now + timedelta(days=60),
            "delegations": 0,
        }
        for n in range(count)
    ]
    with world.ctx.sessions.begin() as session:
        session.execute(insert(EvidenceRequest), rows)


def refs(message: Message) -> list[str]:
    return [word for line in message.body.splitlines() for word in line.split() if word.startswith("EV-")]


def more_of(message: Message) -> str | None:
    return next((b.value for b in message.buttons if b.action_id.endswith(".more")), None)


def test_window_clamps_a_stale_offset_to_the_last_page_and_knows_an_empty_list():
    assert window(45, 20) == window(45, 20, PAGE_SIZE)
    assert (window(45, 60).offset, window(45, 60).stale) == (40, True)
    assert (window(40, 40).offset, window(40, 40).stale) == (20, True)
    assert (window(0, 0).total, window(0, 0).stale) == (0, False)
    assert window(0, 20).stale
    last = page_message(title="t", lines=["a"] * 5, page=window(45, 40), more="x.more", name="all")
    assert last.buttons == () and last.footer == "Showing 41–45 of 45."


@pytest.mark.parametrize("value", ["", "all", "all:-1", "all:x", ":3", "all:99999999999"])
def test_a_forged_more_value_is_refused(value):
    with pytest.raises(Refused):
        parse_more(value)


def test_the_overview_pages_through_every_request_once_with_counts_first(world):
    seed(world, "olga", 45)
    first = world.command("alice", "evidence all").reply
    assert first is not None and first.text == "45 evidence requests in progress"
    assert dict(first.fields)["Overdue"] == "11" and first.body.startswith("By process: GOV 15, INC 15, RA 15")
    seen = refs(first)
    value = more_of(first)
    assert len(seen) == PAGE_SIZE and value == more_value("all", 20)
    while value is not None:
        page = world.press("alice", "evidence.more", value)
        assert page.reply is not None
        seen += refs(page.reply)
        value = more_of(page.reply)
    assert sorted(seen) == sorted(f"EV-{n}" for n in range(1, 46))
    assert page.reply.footer == "Showing 41–45 of 45."


def test_an_employee_pages_through_only_their_own_requests(world):
    seed(world, "olga", 30)
    seed(world, "erin", 25)
    first = world.command("erin", "evidence").reply
    assert first is not None and first.text == "Your evidence requests: 25 to answer, 0 waiting for review"
    second = world.press("erin", "evidence.more", more_of(first) or "")
    assert second.reply is not None and more_of(second.reply) is None
    assert sorted(refs(first) + refs(second.reply)) == sorted(f"EV-{n}" for n in range(31, 56))
    # the overview's button is no way around the role check, and a button names no owner
    refused = world.press("erin", "evidence.more", "all:0")
    assert refused.reply is not None and "only" in refused.reply.text


def test_a_stale_more_button_after_items_closed_shows_the_last_page(world):
    seed(world, "olga", 45)
    first = world.command("alice", "evidence all").reply
    assert first is not None
    stale = more_value("all", 40)
    with world.ctx.sessions.begin() as session:
        session.execute(update(EvidenceRequest).where(EvidenceRequest.id > 10).values(status="accepted"))
    page = world.press("alice", "evidence.more", stale).reply
    assert page is not None and page.text == "10 evidence requests in progress"
    assert "The list has changed" in page.body and len(refs(page)) == 10 and more_of(page) is None
    with world.ctx.sessions.begin() as session:
        session.execute(update(EvidenceRequest).values(status="accepted"))
    empty = world.press("alice", "evidence.more", stale).reply
    assert empty is not None and empty.text == "No evidence requests are open."


def test_every_list_answers_an_empty_list_plainly(world):
    assert world.command("erin", "evidence").reply.text == "You have no open evidence requests."  # type: ignore[union-attr]
    assert world.command("alice", "evidence all").reply.text == "No evidence requests are open."  # type: ignore[union-attr]
    assert world.command("alice", "changes").reply.text == "There are no open changes."  # type: ignore[union-attr]
    assert world.command("erin", "mine", name="/incident").reply.text.startswith("You have not reported")  # type: ignore[union-attr]
    assert world.command("aldo", "incidents").reply.text == "No open incidents and no running regulatory clocks."  # type: ignore[union-attr]
    assert world.command("alice", "outbox").reply.text.startswith("Nothing is stuck")  # type: ignore[union-attr]


def test_long_titles_are_clipped_and_a_page_fits_one_slack_message(world):
    seed(world, "olga", 60, title="x" * 180 + " <!channel> & more")
    page = world.command("alice", "evidence all").reply
    assert page is not None
    assert all(len(line) <= 280 for line in page.body.splitlines())
    blocks = message_blocks(page)
    assert len(blocks) <= MAX_BLOCKS
    assert all(len(b["text"]["text"]) <= MAX_SECTION for b in blocks if b["type"] == "section" and "text" in b)
    assert any(b["type"] == "actions" and b["elements"][-1]["value"] == "all:20" for b in blocks)


def test_the_home_shows_counts_and_a_more_button_instead_of_every_request(world):
    seed(world, "olga", 40)
    home = world.command("olga", "home").reply
    assert home is not None
    assert "You have 40 evidence requests in progress; these are the first 5." in home.body
    assert [b.value for b in home.buttons] == ["mine:0"]
    page = world.press("olga", "evidence.more", "mine:0").reply
    assert page is not None and len(refs(page)) == PAGE_SIZE


def test_the_console_numbers_the_more_button_and_pressing_it_shows_the_next_page(world):
    seed(world, "olga", 25)
    said: list[str] = []
    console = Console(ask=lambda prompt: "", say=said.append)
    console.attach(world.runtime, "alice@example.org")
    console.handle("/isms evidence all")
    assert "[1] More (5 left)" in said[-1]
    console.handle("1")
    assert "Showing 21–25 of 25." in said[-1]
