"""Chat entries of process INC: ``/incident``, ``/isms incidents``, the "Report security incident"
message shortcut, the triage buttons and their forms. Each entry unpacks the request and calls one
workflow function with plain arguments."""

from __future__ import annotations

import json
from collections.abc import Callable

from config.incident_settings import SEVERITY_IDS
from workflows.incidents import flows as incidents
from workflows.incidents.forms import (
    ASSIGN,
    CHANGE,
    CLOSE,
    NOT_INCIDENT,
    NOTE,
    NOTIFIED,
    REPORT,
    TRIAGE_VALIDATORS,
    Source,
    moment_or_now,
    parse_report,
    validate_report,
)
from workflows.incidents.messages import ADD_DETAILS, CLASSIFY, ESCALATE, severity_action
from workflows.incidents.service import MINE, MORE, OPEN_LIST, my_reports, open_incidents
from workflows.kernel.paging import more_route
from workflows.kernel.routing import FormRoute, Request, Router
from workflows.kernel.ui import Outcome
from workflows.kernel.work import Context


def _incident_command(ctx: Context, request: Request) -> Outcome:
    text = request.text.strip()
    if not text:
        return incidents.start_report(ctx, request.actor)
    if text.lower() == "mine":
        return my_reports(ctx, request.actor)
    return incidents.quick_report(ctx, request.actor, key=request.key, text=text)


def _shortcut(ctx: Context, request: Request) -> Outcome:
    source = request.source
    if source is None:
        return incidents.start_report(ctx, request.actor)
    return incidents.start_report(ctx, request.actor, Source(source.permalink, source.author), source.text)


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
                ctx, actor, key=key, ref=ref, root_cause=values["root_cause"], lessons=values["lessons"]
            )
        return incidents.record_notification(
            ctx,
            actor,
            key=key,
            ref=ref,
            clock=values["clock"],
            at=moment_or_now(ctx, values, "at"),
            note=values.get("note", ""),
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
    router.isms["incidents"] = lambda ctx, request: open_incidents(ctx, request.actor)
    router.actions[MORE] = more_route({MINE: my_reports, OPEN_LIST: open_incidents})
    router.shortcuts["report_incident"] = _shortcut
    router.forms[REPORT] = FormRoute(lambda ctx, request: validate_report(ctx, request.values), _submit_report)
    for callback_id in (NOT_INCIDENT, ASSIGN, NOTE, CHANGE, CLOSE, NOTIFIED):
        router.forms[callback_id] = FormRoute(_validator(callback_id), _submit_triage(callback_id))
        router.actions[callback_id] = _open(callback_id)
    for level in SEVERITY_IDS:
        router.actions[severity_action(level)] = _severity(level)
    router.actions[ADD_DETAILS] = lambda ctx, request: incidents.details_form(ctx, request.actor, request.text.strip())
    router.actions[CLASSIFY] = lambda ctx, request: incidents.classify(
        ctx, request.actor, key=request.key, ref=request.text.strip()
    )
    router.actions[ESCALATE] = lambda ctx, request: incidents.escalate(
        ctx, request.actor, key=request.key, ref=request.text.strip()
    )
