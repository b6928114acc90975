"""Chat entries of the policy register: ``/isms policy new``, ``/isms policies [id]``, the approver's
buttons and the rejection form."""

from __future__ import annotations

from workflows.kernel.paging import more_route
from workflows.kernel.routing import FormRoute, Request, Router
from workflows.kernel.ui import Outcome
from workflows.kernel.work import Context
from workflows.policies import flows, forms, service
from workflows.policies.messages import ALL_LIST, MORE


def _policy(ctx: Context, request: Request) -> Outcome:
    if request.text.strip().lower() != "new":
        return Outcome.say("Type `/isms policy new` to add a policy version, or `/isms policies` to see the register.")
    return flows.open_new_form(ctx, request.actor)


def _policies(ctx: Context, request: Request) -> Outcome:
    wanted = request.text.strip()
    return service.history(ctx, request.actor, wanted) if wanted else service.policies(ctx, request.actor)


def register(router: Router) -> None:
    router.isms["policy"] = _policy
    router.isms["policies"] = _policies
    router.actions[MORE] = more_route({ALL_LIST: service.policies})
    router.forms[forms.NEW_FORM] = FormRoute(
        lambda ctx, request: flows.validate(ctx, request.actor, request.values),
        lambda ctx, request: flows.submit_version(ctx, request.actor, request.values, request.key),
    )
    router.actions[forms.APPROVE] = lambda ctx, request: flows.approve(ctx, request.actor, request.text, request.key)
    router.actions[forms.REJECT_FORM] = lambda ctx, request: flows.open_reject_form(ctx, request.actor, request.text)
    router.forms[forms.REJECT_FORM] = FormRoute(
        lambda ctx, request: forms.validate_reason(request.values),
        lambda ctx, request: flows.reject(ctx, request.actor, request.metadata, request.values["reason"], request.key),
    )
