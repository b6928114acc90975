"""Chat entries of the internal audit: ``/isms audit new|ask|report|move|cancel``, ``/isms audits``, ``/isms finding
[close]``, the audit message's buttons and the two forms."""

from __future__ import annotations

from workflows.audits import flows, forms, messages, service
from workflows.kernel.paging import more_route
from workflows.kernel.routing import FormRoute, Request, Router
from workflows.kernel.ui import Outcome
from workflows.kernel.work import Context

AUDIT_USAGE = (
    "Use /isms audit new (plan an audit), /isms audit ask AUD-2026-0001 <auditee> <what> (more evidence), "
    "/isms audit report AUD-2026-0001 (mark it reported), /isms audit move AUD-2026-0001 YYYY-MM-DD (a new "
    "kick-off) or /isms audit cancel AUD-2026-0001 <why>."
)
FINDING_USAGE = "Use /isms finding (record one) or /isms finding close AUD-2026-0001-F1 [what was done]."


def _audit(ctx: Context, request: Request) -> Outcome:
    sub, _, rest = request.text.strip().partition(" ")
    if sub.lower() == "new":
        return flows.open_plan_form(ctx, request.actor)
    if sub.lower() == "ask":
        return flows.ask_evidence(ctx, request.actor, rest, request.key)
    if sub.lower() == "report":
        return flows.mark_reported(ctx, request.actor, rest, request.key)
    if sub.lower() == "move":
        return flows.move_audit(ctx, request.actor, rest, request.key)
    if sub.lower() == "cancel":
        return flows.cancel_audit(ctx, request.actor, rest, request.key)
    return Outcome.say(AUDIT_USAGE)


def _finding(ctx: Context, request: Request) -> Outcome:
    sub, _, rest = request.text.strip().partition(" ")
    if not sub:
        return flows.open_finding_form(ctx, request.actor, None)
    if sub.lower() == "close":
        return flows.close_finding(ctx, request.actor, rest, request.key)
    return Outcome.say(FINDING_USAGE)


def register(router: Router) -> None:
    router.isms["audit"] = _audit
    router.isms["audits"] = lambda ctx, request: service.programme(ctx, request.actor)
    router.isms["finding"] = _finding
    router.actions[messages.MORE] = more_route({messages.PROGRAMME: service.programme})
    router.actions[messages.RECORD_FINDING] = lambda ctx, request: flows.open_finding_form(
        ctx, request.actor, request.text
    )
    router.actions[messages.REPORT] = lambda ctx, request: flows.mark_reported(
        ctx, request.actor, request.text, request.key
    )
    router.actions[messages.NEW_ACTION] = lambda ctx, request: flows.open_action_form(ctx, request.actor, request.text)
    router.forms[forms.ACTION] = FormRoute(
        lambda ctx, request: forms.validate_action(request.values),
        lambda ctx, request: flows.submit_action(ctx, request.actor, request.metadata, request.values, request.key),
    )
    router.forms[forms.PLAN] = FormRoute(
        lambda ctx, request: flows.validate_plan(ctx, request.values),
        lambda ctx, request: flows.submit_plan(ctx, request.actor, request.values, request.key),
    )
    router.forms[forms.FINDING] = FormRoute(
        lambda ctx, request: forms.validate_finding(request.values),
        lambda ctx, request: flows.submit_finding(ctx, request.actor, request.values, request.key),
    )
