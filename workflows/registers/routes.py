"""Chat entries of the registers: ``/isms risks|controls|assets|suppliers|requirements|parties`` (lists),
``/isms risk|control|... <id>`` (one item), ``/isms soa``, and the risk owner's buttons and forms."""

from __future__ import annotations

from workflows.kernel.access import Refused
from workflows.kernel.paging import parse_more
from workflows.kernel.routing import FormRoute, Handler, Request, Router
from workflows.kernel.ui import Outcome
from workflows.kernel.work import Context
from workflows.registers import elements, forms, messages, risks, service, soa, suppliers
from workflows.registers.kinds import KINDS, Kind
from workflows.registers.lifecycle import today


def _list(kind: Kind) -> Handler:
    return lambda ctx, request: service.list_items(ctx, request.actor, kind, request.text)


def _show(kind: Kind) -> Handler:
    return lambda ctx, request: service.show_item(ctx, request.actor, kind, request.text)


def _more(ctx: Context, request: Request) -> Outcome:
    """A list's "More" button: the value names the register and its filters, then the offset."""
    name, offset = parse_more(request.text)
    if name == soa.LIST:
        return soa.soa_summary(ctx, request.actor, "", offset)
    kind_name, _, filters = name.partition(" ")
    kind = KINDS.get(kind_name)
    if kind is None:
        raise Refused("That list is no longer available. Ask for it again.")
    return service.list_items(ctx, request.actor, kind, filters, offset)


def register(router: Router) -> None:
    for kind in KINDS.values():
        router.isms[kind.plural] = _list(kind)
        router.isms[kind.name] = _show(kind)
    router.isms["soa"] = lambda ctx, request: soa.soa_summary(ctx, request.actor, request.text, key=request.key)
    router.actions[messages.MORE] = _more

    router.actions[messages.RERATE] = lambda ctx, request: risks.open_rerate(ctx, request.actor, request.text)
    router.forms[messages.RERATE] = FormRoute(
        lambda ctx, request: forms.validate_rerate(request.values, ctx.org.registers),
        lambda ctx, request: risks.submit_rerate(ctx, request.actor, request.metadata, request.values, request.key),
    )
    router.actions[messages.ACCEPT] = lambda ctx, request: risks.open_accept(ctx, request.actor, request.text)
    router.forms[messages.ACCEPT] = FormRoute(
        lambda ctx, request: forms.validate_accept(request.values, ctx.org.registers, today(ctx)),
        lambda ctx, request: risks.submit_accept(ctx, request.actor, request.metadata, request.values, request.key),
    )
    router.actions[messages.PLAN] = lambda ctx, request: risks.open_plan(ctx, request.actor, request.text)
    router.forms[messages.PLAN] = FormRoute(
        lambda ctx, request: forms.validate_plan(request.values),
        lambda ctx, request: risks.submit_plan(ctx, request.actor, request.metadata, request.values, request.key),
    )
    router.actions[messages.REVIEWED] = lambda ctx, request: suppliers.open_review(ctx, request.actor, request.text)
    router.forms[messages.REVIEWED] = FormRoute(
        lambda ctx, request: forms.validate_review(request.values, today(ctx)),
        lambda ctx, request: suppliers.submit_review(ctx, request.actor, request.metadata, request.values, request.key),
    )
    router.suggestions[elements.SOURCE] = elements.suggest
