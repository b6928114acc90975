"""Chat entries of campaigns: ``/isms campaign new|close``, ``/isms campaigns [AWR-n]``, the person's
"done" button and the lists' "More" button."""

from __future__ import annotations

from workflows.awareness import flows, forms, service
from workflows.awareness.messages import ALL_LIST, DONE_ACTION, MISSING_LIST, MORE
from workflows.kernel.paging import parse_more
from workflows.kernel.routing import FormRoute, Request, Router
from workflows.kernel.ui import Outcome
from workflows.kernel.work import Context


def _campaign(ctx: Context, request: Request) -> Outcome:
    verb, _, rest = request.text.strip().partition(" ")
    if verb.lower() == "close":
        return flows.close_campaign(ctx, request.actor, rest, request.key)
    if verb.lower() != "new" or rest.strip():
        return Outcome.say(
            "Type `/isms campaign new` to start a campaign, `/isms campaign close AWR-0001 <why>` to end one "
            "early, or `/isms campaigns` to see them."
        )
    return flows.open_new_form(ctx, request.actor)


def _campaigns(ctx: Context, request: Request) -> Outcome:
    ref = request.text.strip()
    return service.campaign(ctx, request.actor, ref) if ref else service.campaigns(ctx, request.actor)


def _more(ctx: Context, request: Request) -> Outcome:
    name, offset = parse_more(request.text)
    if name.startswith(MISSING_LIST + " "):
        return service.campaign(ctx, request.actor, name.removeprefix(MISSING_LIST + " "), offset)
    if name == ALL_LIST:
        return service.campaigns(ctx, request.actor, offset)
    return Outcome.say("That list is no longer available. Ask for it again.")


def register(router: Router) -> None:
    router.isms["campaign"] = _campaign
    router.isms["campaigns"] = _campaigns
    router.actions[MORE] = _more
    router.actions[DONE_ACTION] = lambda ctx, request: flows.complete(ctx, request.actor, request.text, request.key)
    router.forms[forms.NEW_FORM] = FormRoute(
        lambda ctx, request: flows.validate(ctx, request.values),
        lambda ctx, request: flows.submit_campaign(ctx, request.actor, request.values, request.key),
    )
