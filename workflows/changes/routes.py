"""Chat entries of change management: ``/isms change``, ``/isms changes``, ``/isms ticket`` and the
buttons and forms of each step (risk evaluation, approve/decline, verify)."""

from __future__ import annotations

from collections.abc import Callable

from integrations.local_tracker import move_ticket
from workflows.changes import chat
from workflows.changes.flows import ChangeStateError
from workflows.kernel.routing import FormRoute, Handler, Request, Router
from workflows.kernel.ui import Outcome
from workflows.kernel.work import Context


def polite(handler: Handler) -> Handler:
    """A step that does not fit the change's state (already decided, not yet implemented) is an
    answer for the person, not an error reference."""

    def run(ctx: Context, request: Request) -> Outcome:
        try:
            return handler(ctx, request)
        except ChangeStateError as error:
            return Outcome.say(str(error))

    return run


def _form(validate: Callable[[dict[str, str]], dict[str, str]], submit: Handler) -> FormRoute:
    return FormRoute(lambda ctx, request: validate(request.values), polite(submit))


def register(router: Router) -> None:
    router.isms["change"] = lambda ctx, request: chat.change_form(ctx, request.actor)
    router.isms["changes"] = lambda ctx, request: chat.list_changes(ctx, request.actor)
    router.isms["ticket"] = lambda ctx, request: move_ticket(ctx, request.actor, request.text, request.key)
    router.forms[chat.REQUEST_FORM] = FormRoute(
        lambda ctx, request: chat.validate_change_form(ctx, request.values, request.metadata),
        lambda ctx, request: chat.submit_change_form(ctx, request.actor, request.values, request.metadata, request.key),
    )

    router.actions["chg.risk"] = polite(lambda ctx, request: chat.risk_form(ctx, request.actor, request.text))
    router.forms[chat.RISK_FORM] = _form(
        chat.validate_risk,
        lambda ctx, request: chat.submit_risk(ctx, request.actor, request.metadata, request.values, request.key),
    )

    for approve, form_id in ((True, chat.APPROVE_FORM), (False, chat.DECLINE_FORM)):
        router.actions[form_id] = polite(
            lambda ctx, request, approve=approve: chat.decision_form(ctx, request.actor, request.text, approve=approve)
        )
        router.forms[form_id] = _form(
            chat.validate_decision,
            lambda ctx, request, approve=approve: chat.submit_decision(
                ctx, request.actor, request.metadata, approve=approve, reason=request.values["reason"], key=request.key
            ),
        )

    router.actions["chg.verify"] = polite(
        lambda ctx, request: chat.confirm_works(ctx, request.actor, request.text, request.key)
    )
    router.actions["chg.fail"] = polite(lambda ctx, request: chat.fail_form(ctx, request.actor, request.text))
    router.forms[chat.FAIL_FORM] = _form(
        chat.validate_failure,
        lambda ctx, request: chat.report_failure(
            ctx, request.actor, request.metadata, request.values["result"], request.key
        ),
    )
