"""The registers (RA's risks and assets, RT's controls and Statement of Applicability, SUP's suppliers,
REQ's requirements, CRM's interested parties): one package, because listing, showing, importing and
exporting are the same for all of them, with records under each register's own process.

The main descriptor carries RT's id: risk treatment is where the registers meet (treatment plans, the
SoA), and the process CHG reports back to about the requests for change a treatment plan raised. RA
has a small descriptor of its own for what other processes tell risk assessment (INC's closed
incidents on assets).
"""

from __future__ import annotations

from workflows.kernel.access import EVERYONE
from workflows.kernel.process import HelpEntry, Process
from workflows.registers import risks, routes, scheduled, service
from workflows.registers.kinds import KINDS
from workflows.registers.lifecycle import OVERSEERS


def _lists(*processes: str) -> tuple[HelpEntry, ...]:
    return tuple(
        HelpEntry(
            f"/isms {kind.plural} [owner:@person] [status:x] [words]",
            f"The {kind.name} register (yours, or all of it for the ISMS manager, auditors and management)",
            EVERYONE,
        )
        for kind in KINDS.values()
        if kind.process in processes
    )


PROCESS = Process(
    id="RT",
    routes=routes.register,
    help=(
        *_lists("RT", "SUP", "REQ", "CRM"),
        HelpEntry(
            "/isms risk <id>",
            "One item with its history (likewise /isms control, asset, supplier, requirement or party <id>)",
            EVERYONE,
        ),
        HelpEntry("/isms soa", "The Statement of Applicability: Annex A controls, their evidence and gaps", OVERSEERS),
    ),
    due=(scheduled.expire_acceptances, scheduled.ask_reviews, scheduled.tell_contract_endings),
    home=service.home_items,
    status=service.status_lines,
    receives={"change-status": risks.take_change_news, "change-finished": risks.take_change_news},
)


ASSESSMENT = Process(
    id="RA",
    routes=lambda router: None,  # the registers' routes are all registered by PROCESS above
    help=_lists("RA"),
    receives={"incident-closed": risks.take_incident},
)
"""Risk assessment's own descriptor: the risk and asset registers' help, and what INC tells RA."""
