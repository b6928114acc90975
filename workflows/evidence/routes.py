"""Chat entries of evidence requests: ``/isms evidence [all]``, the owner's buttons (submit, not
applicable, delegate, snooze) and the ISMS manager's (accept, reject), with their forms."""

from __future__ import annotations

from workflows.evidence import flows, forms, service
from workflows.evidence.messages import ACCEPT, DELEGATE, NOT_APPLICABLE, REJECT, SUBMIT, snooze_action
from workflows.kernel.paging import more_route
from workflows.kernel.routing import FormRoute, Handler, Request, Router
from workflows.kernel.ui import Outcome
from workflows.kernel.work import Context

MAX_SNOOZE_DAYS = 30
"""Snooze buttons carry their days in the action id; the configuration allows 1-30 days."""


def _evidence(ctx: Context, request: Request) -> Outcome:
    if request.text.strip().lower() == "all":
        return service.overview(ctx, request.actor)
    return service.my_requests(ctx, request.actor)


def register(router: Router) -> None:
    router.isms["evidence"] = _evidence
    router.actions[service.MORE] = more_route({service.MINE: service.my_requests, service.ALL: service.overview})

    router.actions[SUBMIT] = lambda ctx, request: flows.open_submit(ctx, request.actor, request.text)
    router.actions[NOT_APPLICABLE] = lambda ctx, request: flows.open_not_applicable(ctx, request.actor, request.text)
    router.actions[DELEGATE] = lambda ctx, request: flows.open_delegate(ctx, request.actor, request.text)
    for days in range(1, MAX_SNOOZE_DAYS + 1):
        router.actions[snooze_action(days)] = _snooze(days)
    router.actions[ACCEPT] = lambda ctx, request: flows.open_review(ctx, request.actor, request.text, accept=True)
    router.actions[REJECT] = lambda ctx, request: flows.open_review(ctx, request.actor, request.text, accept=False)

    router.forms[forms.SUBMIT_FORM] = FormRoute(
        lambda ctx, request: forms.validate_submission(ctx, request.values),
        lambda ctx, request: flows.submit(ctx, request.actor, request.metadata, request.values, request.key),
    )
    router.forms[forms.NA_FORM] = FormRoute(
        lambda ctx, request: forms.validate_reason(ctx, request.values),
        lambda ctx, request: flows.not_applicable(
            ctx, request.actor, request.metadata, request.values["reason"], request.key
        ),
    )
    router.forms[forms.DELEGATE_FORM] = FormRoute(
        lambda ctx, request: forms.validate_delegation(ctx, request.values),
        lambda ctx, request: flows.delegate(
            ctx, request.actor, request.metadata, request.values["person"], request.values.get("note", ""), request.key
        ),
    )
    router.forms[forms.ACCEPT_FORM] = FormRoute(
        lambda ctx, request: forms.validate_acceptance(ctx, request.values), _decide(accept=True)
    )
    router.forms[forms.REJECT_FORM] = FormRoute(
        lambda ctx, request: forms.validate_rejection(ctx, request.values), _decide(accept=False)
    )


def _snooze(days: int) -> Handler:
    return lambda ctx, request: flows.snooze(ctx, request.actor, request.text, days, request.key)


def _decide(*, accept: bool) -> Handler:
    return lambda ctx, request: flows.decide(ctx, request.actor, request.metadata, request.values, request.key, accept)
