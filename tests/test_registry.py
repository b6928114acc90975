"""The process registry is the one place processes plug in: every process is findable in help,
claims its own chat entries, receives what is published to it, and answers every button it posts."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.world import World, berlin, programme_world
from workflows.common.home import home
from workflows.kernel.actors import SYSTEM
from workflows.kernel.interfaces import Interface, Unreceived, publish
from workflows.kernel.process import build_router
from workflows.kernel.routing import Router
from workflows.kernel.ui import Button, Form, Outcome
from workflows.registry import PROCESSES

PEOPLE = ("alice", "sam", "hana", "erin", "olga", "dora", "aldo", "mia")


def test_every_process_has_help_entries_and_a_unique_id():
    assert len({p.id for p in PROCESSES}) == len(PROCESSES)
    assert [p.id for p in PROCESSES if not p.help] == []


def test_no_two_processes_claim_the_same_chat_entry():
    claimed: dict[tuple[str, str], str] = {}
    for process in PROCESSES:
        own = Router()
        process.routes(own)
        for table in ("commands", "isms", "actions", "forms", "shortcuts"):
            for entry in getattr(own, table):
                assert (table, entry) not in claimed, f"{process.id} and {claimed[(table, entry)]} both claim {entry}"
                claimed[(table, entry)] = process.id


def test_action_and_form_ids_follow_process_dot_action():
    router = build_router(PROCESSES)
    odd = [i for i in (*router.actions, *router.forms) if not re.fullmatch(r"[a-z]+(\.[a-z0-9_]+)+", i, re.I)]
    assert odd == []


def test_every_help_entry_names_an_entry_the_router_has():
    router = build_router(PROCESSES)
    for process in PROCESSES:
        for entry in process.help:
            words = entry.usage.split()
            if words[0] == "/isms":
                assert words[1] in router.isms, entry.usage
            elif words[0].startswith("/"):
                assert words[0] in router.commands, entry.usage


@pytest.fixture
def world(settings, clock, tmp_path) -> Iterator[World]:
    built = programme_world(settings, clock, tmp_path)
    yield built
    built.close()


def test_publishing_what_no_process_receives_is_an_error(world):
    with world.ctx.work(SYSTEM) as work, pytest.raises(Unreceived, match="AWR"):
        publish(work, Interface("INC", "AWR", "no-such-interface", "INC-2026-0001"))
    assert world.records(process="INC") == []


def _filled(form: Form) -> dict[str, str]:
    """A plausible answer to every field, as a person would give it."""
    values = {}
    for field in form.fields:
        if field.kind == "select":
            values[field.name] = field.initial or field.options[0][0]
        elif field.kind in ("datetime", "date", "url", "files", "search"):
            values[field.name] = ""
        elif field.kind == "number":
            values[field.name] = "3"
        elif field.kind == "person":
            values[field.name] = "hana"
        else:
            values[field.name] = "Enough words to satisfy the form."
    return values


def test_every_button_a_process_posts_has_a_handler(world):
    """Drive each process as people would (report, triage, evidence, change), press every button the
    bot shows, fill every form it opens, and check each button it ever showed is routed."""
    router = world.runtime.router
    seen: dict[str, Button] = {}
    outcomes: list[Outcome] = []

    def shown() -> list[Button]:
        buttons = [b for sent in world.chat.sent for b in sent.message.buttons]
        buttons += [b for o in outcomes if o.reply for b in o.reply.buttons]
        for person in PEOPLE:
            buttons += [b for section in home(world.ctx, world.actor(person)).sections for b in section.buttons]
        return buttons

    world.at(berlin(2026, 12, 28))  # the quarter's evidence requests are out
    outcomes.append(world.command("erin", "Somebody asked for my password by phone", name="/incident"))
    outcomes.append(world.command("sam", "change"))
    for _ in range(4):  # each round presses what the previous round showed
        for button in shown():
            if button.action_id in seen:
                continue
            seen[button.action_id] = button
            for person in ("sam", "alice", "olga", "erin"):
                outcome = world.press(person, button.action_id, button.value)
                outcomes.append(outcome)
                if outcome.form is not None:
                    outcomes.append(
                        world.fill(person, outcome.form.callback_id, _filled(outcome.form), outcome.form.metadata)
                    )
        forms = [o.form for o in outcomes if o.form is not None]
        for form in forms:
            outcomes.append(world.fill("sam", form.callback_id, _filled(form), form.metadata))

    assert len(seen) >= 20, f"the scenario showed too few buttons to mean anything: {sorted(seen)}"
    assert {action.split(".")[0] for action in seen} >= {"incident", "change", "evidence"}
    unrouted = sorted(action for action in seen if action not in router.actions)
    assert unrouted == []
    unsupported = [o.reply.text for o in outcomes if o.reply and "no longer supported" in o.reply.text]
    assert unsupported == []
