"""``/isms help``: what this person may do, by role, so nobody is shown buttons they cannot use."""

from __future__ import annotations

from dataclasses import dataclass

from workflows.actors import Actor
from workflows.context import Context
from workflows.ui import Message, Outcome

EVERYONE = frozenset(
    {
        "employee",
        "owner",
        "security_team",
        "security_lead",
        "isms_manager",
        "auditor",
        "dpo",
        "management",
        "budget_owner",
    }
)


@dataclass(frozen=True)
class Command:
    usage: str
    purpose: str
    roles: frozenset[str]


COMMANDS: tuple[Command, ...] = (
    Command("/isms help", "What you can do with the ISMS bot", EVERYONE),
    Command("/isms home", "Your role and your open items (the App Home in Slack)", EVERYONE),
    Command("/incident", "Report a security incident (opens a form)", EVERYONE),
    Command("/incident <what happened>", "Report an incident in one line", EVERYONE),
    Command(
        "Report security incident (message shortcut, under ⋮ on any message)",
        "Report that message as an incident",
        EVERYONE,
    ),
    Command("/incident mine", "Your incident reports and their status", EVERYONE),
    Command(
        "/isms incidents",
        "Open incidents, running regulatory clocks first",
        frozenset({"security_team", "security_lead", "isms_manager", "auditor", "dpo"}),
    ),
    Command("/isms processes", "The ISMS processes the bot runs", EVERYONE),
    Command("/isms outbox", "Messages and tickets the bot could not deliver", frozenset({"isms_manager"})),
    Command("/isms evidence", "Your open evidence requests and their due dates", EVERYONE),
    Command(
        "/isms evidence all",
        "Open, overdue and rejected evidence requests by process",
        frozenset({"isms_manager", "auditor"}),
    ),
    Command("/isms change", "Request a change to the ISMS (opens a form)", EVERYONE),
    Command("/isms changes", "Open changes with their state and tracker issue", EVERYONE),
    Command(
        "/isms ticket LOCAL-<n> todo|progress|done|wontdo [comment]",
        "Move a local tracker ticket (when Jira is not configured)",
        frozenset({"isms_manager"}),
    ),
)


def help_for(ctx: Context, actor: Actor) -> Outcome:
    allowed = [c for c in COMMANDS if actor.has(*c.roles)]
    roles = sorted(actor.roles)
    text = ctx.templates.text("help.j2", actor=actor, roles=roles, commands=allowed, org=ctx.org)
    return Outcome(reply=Message(text=text.splitlines()[0], body="\n".join(text.splitlines()[1:]).strip()))
