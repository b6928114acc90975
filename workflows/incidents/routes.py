"""Chat entries of process INC: ``/incident``, ``/isms incidents``, the "Report security incident"
message shortcut, the triage buttons and their forms. Each entry unpacks the request and calls one
workflow function with plain arguments."""

from __future__ import annotations

import json
from collections.abc import Callable

from config.incident_settings import SEVERITY_IDS
from workflows.incidents import flows as incidents
from workflows.incidents.forms import (
    ADD_TO_TIMELINE,
    ASSIGN,
    CHANGE,
    CLOSE,
    CLOSE_ANYWAY,
    NOT_INCIDENT,
    NOTE,
    NOTIFIED,
    PERSONAL_DATA,
    REF_PATTERN,
    REPORT,
    TRIAGE_VALIDATORS,
    Source,
    moment_or_now,
    parse_report,
    validate_report,
    validate_timeline,
)
from workflows.incidents.lifecycle import VIEWER_ROLES
from workflows.incidents.messages import (
    ACKNOWLEDGE,
    ADD_DETAILS,
    CLASSIFY,
    ESCALATE,
    OPEN_ROOM,
    WITHDRAW,
    command_help,
    severity_action,
)
from workflows.incidents.service import (
    ALL_LIST,
    MINE,
    MORE,
    OPEN_LIST,
    TIMELINE,
    all_incidents,
    my_reports,
    open_incidents,
    timeline_page,
)
from workflows.kernel.access import Refused
from workflows.kernel.paging import more_route, parse_more
from workflows.kernel.routing import FormRoute, Handler, Request, Router
from workflows.kernel.ui import Outcome
from workflows.kernel.work import Context


def _list(ctx: Context, request: Request) -> Outcome:
    """``/incident list``: every open incident for those who may see them, one's own reports otherwise
    (asking to list is no attempt at anything: nothing is refused or recorded)."""
    if request.actor.has(*VIEWER_ROLES):
        return open_incidents(ctx, request.actor)
    return my_reports(ctx, request.actor)


RESERVED: dict[str, Callable[[Context, Request], Outcome]] = {
    "help": lambda ctx, request: Outcome(reply=command_help()),
    "?": lambda ctx, request: Outcome(reply=command_help()),
    "mine": lambda ctx, request: my_reports(ctx, request.actor),
    "status": lambda ctx, request: my_reports(ctx, request.actor),
    "list": _list,
    "open": _list,
    "new": lambda ctx, request: incidents.start_report(ctx, request.actor),
    "report": lambda ctx, request: incidents.start_report(ctx, request.actor),
}
"""Single words after ``/incident`` that are commands, never a one-line report."""


ABOUT_ONE: dict[str, Callable[[Context, Request, str], Outcome]] = {
    "timeline": lambda ctx, request, ref: timeline_page(ctx, request.actor, ref),
    "report": lambda ctx, request, ref: incidents.post_incident_report(ctx, request.actor, key=request.key, ref=ref),
}
"""Words that, followed by an incident's reference, are commands about that incident."""


def _incident_command(ctx: Context, request: Request) -> Outcome:
    text = request.text.strip()
    if not text:
        return incidents.start_report(ctx, request.actor)
    first, _, rest = text.partition(" ")
    about = ABOUT_ONE.get(first.lower())
    if about is not None and REF_PATTERN.fullmatch(rest.strip().upper()):
        return about(ctx, request, rest.strip().upper())
    if first.lower() == "timeline":  # never a report ("report <text>" still is one, as people write)
        return Outcome.say("Which incident? For example: /incident timeline INC-2026-0042")
    reserved = RESERVED.get(text.lower().strip(".!"))
    if reserved is not None:
        return reserved(ctx, request)
    return incidents.quick_report(ctx, request.actor, key=request.key, text=text)


def _incidents_list(ctx: Context, request: Request) -> Outcome:
    """``/isms incidents`` (open ones) or ``/isms incidents all [PERIOD]`` (open and closed)."""
    first, _, rest = request.text.strip().partition(" ")
    if first.lower() == ALL_LIST:
        return all_incidents(ctx, request.actor, rest)
    return open_incidents(ctx, request.actor)


def _more(lists: Handler) -> Handler:
    """The lists' "More" button; ``all <period>`` carries its period in the list's name."""

    def more(ctx: Context, request: Request) -> Outcome:
        name, offset = parse_more(request.text)
        if name == ALL_LIST or name.startswith(ALL_LIST + " "):
            return all_incidents(ctx, request.actor, name[len(ALL_LIST) :], offset)
        if name.startswith(TIMELINE + " "):
            return timeline_page(ctx, request.actor, name[len(TIMELINE) + 1 :], offset)
        return lists(ctx, request)

    return more


def _shortcut(ctx: Context, request: Request) -> Outcome:
    source = request.source
    if source is None:
        return incidents.start_report(ctx, request.actor)
    return incidents.start_report(ctx, request.actor, Source(source.permalink, source.author), source.text)


def _timeline_shortcut(ctx: Context, request: Request) -> Outcome:
    """ "Add to incident timeline" on a message: at once in an incident's channel, else the form asks which."""
    source = request.source
    if source is None:
        raise Refused('Use "Add to incident timeline" on a message (under ⋮ on the message).')
    ref = incidents.incident_of_channel(ctx, source.channel) or incidents.incident_of_thread(source.thread_of)
    if ref is None:
        return incidents.ask_incident(ctx, request.actor, source)
    return incidents.add_to_timeline(ctx, request.actor, key=request.key, ref=ref, message=source)


def _submit_timeline(ctx: Context, request: Request) -> Outcome:
    message = incidents.message_from(request.metadata)
    if message is None:
        raise Refused("That message could not be read back; please use the shortcut on it again.")
    ref = request.values["ref"].strip().upper()
    return incidents.add_to_timeline(ctx, request.actor, key=request.key, ref=ref, message=message)


def _metadata(request: Request) -> dict[str, object]:
    try:
        parsed = json.loads(request.metadata) if request.metadata else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _submit_report(ctx: Context, request: Request) -> Outcome:
    details = parse_report(ctx, request.values)
    metadata = _metadata(request)
    ref = metadata.get("ref")
    if isinstance(ref, str):
        return incidents.add_details(ctx, request.actor, key=request.key, ref=ref, details=details)
    source = metadata.get("source")
    shared = Source(source.get("permalink"), source.get("author")) if isinstance(source, dict) else None
    return incidents.report(ctx, request.actor, key=request.key, details=details, source=shared)


def _submit_triage(callback_id: str) -> Callable[[Context, Request], Outcome]:
    def submit(ctx: Context, request: Request) -> Outcome:
        values, actor, key, ref = request.values, request.actor, request.key, request.metadata
        if callback_id == NOT_INCIDENT:
            return incidents.not_incident(ctx, actor, key=key, ref=ref, reason=values["reason"])
        if callback_id == ASSIGN:
            return incidents.assign(ctx, actor, key=key, ref=ref, handler=values["handler"])
        if callback_id == NOTE:
            return incidents.add_note(ctx, actor, key=key, ref=ref, note=values["note"])
        if callback_id == CHANGE:
            return incidents.request_change(
                ctx,
                actor,
                key=key,
                ref=ref,
                title=values["title"],
                description=values["description"],
                reason=values["reason"],
            )
        if callback_id == CLOSE:
            return incidents.close(
                ctx,
                actor,
                key=key,
                ref=ref,
                root_cause=values["root_cause"],
                lessons=values["lessons"],
                override=values.get("override") == CLOSE_ANYWAY,
            )
        if callback_id == PERSONAL_DATA:
            return incidents.set_personal_data(ctx, actor, key=key, ref=ref, answer=values["personal_data"])
        return incidents.record_notification(
            ctx,
            actor,
            key=key,
            ref=ref,
            clock=values["clock"],
            at=moment_or_now(ctx, values, "at"),
            note=values.get("note", ""),
            decision=values.get("decision") or "authority",
        )

    return submit


def _validator(callback_id: str) -> Callable[[Context, Request], dict[str, str]]:
    check = TRIAGE_VALIDATORS[callback_id]
    return lambda ctx, request: check(ctx, request.values)


def _open(callback_id: str) -> Callable[[Context, Request], Outcome]:
    return lambda ctx, request: incidents.open_form(ctx, request.actor, callback_id, request.text.strip())


def _severity(level: str) -> Callable[[Context, Request], Outcome]:
    return lambda ctx, request: incidents.set_severity(
        ctx, request.actor, key=request.key, ref=request.text.strip(), severity=level
    )


def register(router: Router) -> None:
    router.commands["/incident"] = _incident_command
    router.isms["incidents"] = _incidents_list
    router.actions[MORE] = _more(more_route({MINE: my_reports, OPEN_LIST: open_incidents}))
    router.shortcuts["report_incident"] = _shortcut
    router.shortcuts[ADD_TO_TIMELINE] = _timeline_shortcut
    router.forms[ADD_TO_TIMELINE] = FormRoute(
        lambda ctx, request: validate_timeline(ctx, request.values), _submit_timeline
    )
    router.forms[REPORT] = FormRoute(lambda ctx, request: validate_report(ctx, request.values), _submit_report)
    for callback_id in (NOT_INCIDENT, ASSIGN, NOTE, CHANGE, CLOSE, NOTIFIED, PERSONAL_DATA):
        router.forms[callback_id] = FormRoute(_validator(callback_id), _submit_triage(callback_id))
        router.actions[callback_id] = _open(callback_id)
    for level in SEVERITY_IDS:
        router.actions[severity_action(level)] = _severity(level)
    router.actions[ADD_DETAILS] = lambda ctx, request: incidents.details_form(ctx, request.actor, request.text.strip())
    router.actions[ACKNOWLEDGE] = lambda ctx, request: incidents.acknowledge(
        ctx, request.actor, key=request.key, ref=request.text.strip()
    )
    router.actions[WITHDRAW] = lambda ctx, request: incidents.withdraw(
        ctx, request.actor, key=request.key, ref=request.text.strip()
    )
    router.actions[CLASSIFY] = lambda ctx, request: incidents.classify(
        ctx, request.actor, key=request.key, ref=request.text.strip()
    )
    router.actions[ESCALATE] = lambda ctx, request: incidents.escalate(
        ctx, request.actor, key=request.key, ref=request.text.strip()
    )
    router.actions[OPEN_ROOM] = lambda ctx, request: incidents.open_room(
        ctx, request.actor, key=request.key, ref=request.text.strip()
    )
