"""Chat entries of evidence requests: ``/isms evidence [all]``, the owner's buttons (submit, not
applicable, delegate, snooze) and the ISMS manager's (accept, reject), with their forms."""

from __future__ import annotations

from workflows.evidence import flows as evidence
from workflows.evidence import forms, review
from workflows.evidence.messages import ACCEPT, DELEGATE, NOT_APPLICABLE, REJECT, SNOOZE, SUBMIT
from workflows.kernel.routing import FormRoute, Request, Router
from workflows.kernel.ui import Outcome
from workflows.kernel.work import Context

MAX_SNOOZE_DAYS = 30
"""Snooze buttons carry their days in the action id (Slack wants distinct ids); the configuration allows 1-30."""


def _evidence(ctx: Context, request: Request) -> Outcome:
    if request.text.strip().lower() == "all":
        return review.overview(ctx, request.actor)
    return evidence.my_requests(ctx, request.actor)


def register(router: Router) -> None:
    router.isms["evidence"] = _evidence

    router.actions[SUBMIT] = lambda ctx, request: evidence.open_submit(ctx, request.actor, request.text)
    router.actions[NOT_APPLICABLE] = lambda ctx, request: evidence.open_not_applicable(ctx, request.actor, request.text)
    router.actions[DELEGATE] = lambda ctx, request: evidence.open_delegate(ctx, request.actor, request.text)
    for days in range(1, MAX_SNOOZE_DAYS + 1):
        router.actions[f"{SNOOZE}{days}"] = lambda ctx, request, days=days: evidence.snooze(
            ctx, request.actor, request.text, days, request.key
        )
    router.actions[ACCEPT] = lambda ctx, request: review.open_review(ctx, request.actor, request.text, accept=True)
    router.actions[REJECT] = lambda ctx, request: review.open_review(ctx, request.actor, request.text, accept=False)

    router.forms[forms.SUBMIT_FORM] = FormRoute(
        lambda ctx, request: forms.validate_submission(ctx, request.values),
        lambda ctx, request: evidence.submit(ctx, request.actor, request.metadata, request.values, request.key),
    )
    router.forms[forms.NA_FORM] = FormRoute(
        lambda ctx, request: forms.validate_reason(ctx, request.values),
        lambda ctx, request: evidence.not_applicable(
            ctx, request.actor, request.metadata, request.values["reason"], request.key
        ),
    )
    router.forms[forms.DELEGATE_FORM] = FormRoute(
        lambda ctx, request: forms.validate_delegation(ctx, request.values),
        lambda ctx, request: evidence.delegate(
            ctx, request.actor, request.metadata, request.values["person"], request.values.get("note", ""), request.key
        ),
    )
    for accept, form_id, validate in (
        (True, forms.ACCEPT_FORM, forms.validate_acceptance),
        (False, forms.REJECT_FORM, forms.validate_rejection),
    ):
        router.forms[form_id] = FormRoute(
            lambda ctx, request, validate=validate: validate(ctx, request.values),
            lambda ctx, request, accept=accept: review.decide(
                ctx, request.actor, request.metadata, request.values, request.key, accept
            ),
        )
