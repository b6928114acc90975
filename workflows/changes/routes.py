"""Chat entries of change management: ``/isms change``, ``/isms changes``, ``/isms ticket`` and the
buttons and forms of each step (risk evaluation, approve/decline, verify)."""

from __future__ import annotations

from workflows.changes import flows, forms, messages, service
from workflows.changes.tickets import move_ticket
from workflows.kernel.paging import more_route, parse_more
from workflows.kernel.routing import FormRoute, Request, Router
from workflows.kernel.ui import Outcome
from workflows.kernel.work import Context


def _changes(ctx: Context, request: Request) -> Outcome:
    """``/isms changes`` (open ones) or ``/isms changes all [PERIOD]`` (open and closed)."""
    first, _, rest = request.text.strip().partition(" ")
    if first.lower() == messages.ALL_LIST:
        return service.all_changes(ctx, request.actor, rest)
    return service.list_changes(ctx, request.actor)


_open_more = more_route({messages.OPEN_LIST: service.list_changes})


def _more(ctx: Context, request: Request) -> Outcome:
    """The lists' "More" button; ``all <period>`` carries its period in the list's name."""
    name, offset = parse_more(request.text)
    if name == messages.ALL_LIST or name.startswith(messages.ALL_LIST + " "):
        return service.all_changes(ctx, request.actor, name[len(messages.ALL_LIST) :], offset)
    return _open_more(ctx, request)


def register(router: Router) -> None:
    router.isms["change"] = lambda ctx, request: flows.open_request_form(ctx, request.actor)
    router.isms["changes"] = _changes
    router.actions[messages.MORE] = _more
    router.isms["ticket"] = lambda ctx, request: move_ticket(ctx, request.actor, request.text, request.key)
    router.forms[forms.REQUEST] = FormRoute(
        lambda ctx, request: (
            forms.validate_request(ctx.catalogue.ids, request.values, request.metadata)
            | flows.check_element(ctx, request.actor, request.values)
        ),
        lambda ctx, request: flows.submit_request(ctx, request.actor, request.values, request.metadata, request.key),
    )

    router.actions[forms.RISK] = lambda ctx, request: flows.open_risk_form(ctx, request.actor, request.text)
    router.forms[forms.RISK] = FormRoute(
        lambda ctx, request: forms.validate_risk(request.values),
        lambda ctx, request: flows.submit_risk(ctx, request.actor, request.metadata, request.values, request.key),
    )

    _decision(router, forms.APPROVE, approve=True)
    _decision(router, forms.DECLINE, approve=False)

    router.actions[forms.VERIFY] = lambda ctx, request: flows.confirm_works(
        ctx, request.actor, request.text, request.key
    )
    router.actions[forms.FAIL] = lambda ctx, request: flows.open_fail_form(ctx, request.actor, request.text)
    router.forms[forms.FAIL] = FormRoute(
        lambda ctx, request: forms.validate_failure(request.values),
        lambda ctx, request: flows.report_failure(
            ctx, request.actor, request.metadata, request.values["result"], request.key
        ),
    )


def _decision(router: Router, action: str, *, approve: bool) -> None:
    """Approve and decline: the same button-then-form step with the opposite verdict."""
    router.actions[action] = lambda ctx, request: flows.open_decision_form(
        ctx, request.actor, request.text, approve=approve
    )
    router.forms[action] = FormRoute(
        lambda ctx, request: forms.validate_decision(request.values),
        lambda ctx, request: flows.submit_decision(
            ctx, request.actor, request.metadata, approve=approve, reason=request.values["reason"], key=request.key
        ),
    )
