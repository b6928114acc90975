"""A small known data set for status, metrics and reports: incidents, changes and evidence requests
inserted with chosen times, so every metric has a value computed by hand in the tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import yaml
from sqlalchemy import insert

from config.settings import PACKAGED_EXAMPLE_ORG
from storage.models import Change, EvidenceRequest, EvidenceSubmission, Incident
from tests.world import World, make_world

THRESHOLDS = {
    "inc.triage.p90.P1": {"max": 0.5},
    "inc.resolve.p90.P1": {"max": 24},
    "inc.resolve.p90.P2": {"max": 72},
    "evidence.on_time_rate": {"min": 80},
    "chg.lead_time.median": {"max": 30},
}


def reporting_org(tmp_path: Path) -> Path:
    """The example organisation with thresholds and the weekly digest and monthly report switched on."""
    org = yaml.safe_load(PACKAGED_EXAMPLE_ORG.read_text(encoding="utf-8"))
    org["metrics"] = {"thresholds": THRESHOLDS}
    org["reports"] = {"weekly_digest": {"enabled": True}, "monthly_report": {"enabled": True}}
    path = tmp_path / "org-reporting.yaml"
    path.write_text(yaml.safe_dump(org, sort_keys=False), encoding="utf-8")
    return path


def reporting_world(settings, clock, tmp_path) -> World:  # type: ignore[no-untyped-def]
    """A world on ``reporting_org``."""
    return make_world(settings, clock, reporting_org(tmp_path))


T = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
"""A Monday in the fourth quarter; the FakeClock starts at 2026-11-23 09:00 UTC."""

RESOLVE_P2_HOURS = (10, 20, 30, 40)  # median (rank 2) 20 h, p90 (rank 4) 40 h
TRIAGE_P1_HOURS = (0.5, 1, 2)  # median (rank 2) 1 h, p90 (rank 3) 2 h
LEAD_DAYS = (10, 20)  # median (rank 1) 10 d, p90 (rank 2) 20 d


def incident(n: int, reporter: str, **values: object) -> dict[str, object]:
    row: dict[str, object] = {
        "ref": f"INC-2026-{100 + n:04d}",
        "year": 2026,
        "number": 100 + n,
        "request_key": f"seed:{n}",
        "status": "incident",
        "reported_at": T,
        "reporter_id": reporter,
        "reporter_name": reporter.title(),
        "reporter_to": f"person:{reporter}",
        "summary": f"Seeded incident {n} <b>bold</b> & co",
        "noticed_at": T,
        "updated_at": T,
        "files": [],
    }
    row.update(values)
    return row


def seed(world: World) -> None:
    rows = []
    n = 0
    for hours in RESOLVE_P2_HOURS:
        n += 1
        rows.append(
            incident(
                n,
                "erin",
                severity="P2",
                status="closed",
                classified_at=T + timedelta(minutes=30),
                closed_at=T + timedelta(hours=hours),
            )
        )
    for hours in TRIAGE_P1_HOURS:
        n += 1
        rows.append(incident(n, "olga", severity="P1", classified_at=T + timedelta(hours=hours)))
    n += 1
    rows.append(incident(n, "olga", status="new", summary="Olga's secret report"))
    changes = [
        {
            "ref": f"CHG-2026-{i:04d}",
            "title": f"Change {i}",
            "description": "d",
            "reason": "r",
            "origin_process": "INC",
            "origin_ref": "INC-2026-0001",
            "priority": "medium",
            "state": state,
            "requester": requester,
            "requester_to": f"person:{requester}",
            "created_at": T - timedelta(days=days),
            "updated_at": T,
            "closed_at": T if state == "verified" else None,
            "tracker": "local",
            "tracker_key": f"LOCAL-{i}",
            "significant": False,
        }
        for i, (state, requester, days) in enumerate(
            (("verified", "erin", LEAD_DAYS[0]), ("verified", "erin", LEAD_DAYS[1]), ("in-implementation", "olga", 45)),
            start=1,
        )
    ]
    now = world.clock()
    requests = [
        _request(1, "RA", "olga", T - timedelta(days=5), "submitted", answered=T - timedelta(days=6)),
        _request(2, "RA", "olga", T - timedelta(days=4), "accepted", answered=T - timedelta(days=2)),
        _request(3, "SUP", "olga", T - timedelta(days=3), "open"),  # overdue, not answered
        _request(4, "INC", "erin", now + timedelta(days=3), "open"),  # not due yet: not counted
    ]
    with world.ctx.sessions.begin() as session:
        session.execute(insert(Incident), rows)
        session.execute(insert(Change), changes)
        session.execute(insert(EvidenceRequest), requests)
        session.execute(
            insert(EvidenceSubmission),
            [
                _submission(1, T - timedelta(days=6)),  # on time
                _submission(2, T - timedelta(days=2), decision="accepted"),  # late
            ],
        )


def _request(
    i: int, process: str, owner: str, due: datetime, status: str, answered: datetime | None = None
) -> dict[str, object]:
    return {
        "id": i,
        "activity_key": f"{process}/seeded-{i}",
        "period": "2026-Q4",
        "process": process,
        "title": f"Seeded activity {i}",
        "evidence_kind": "text",
        "period_start": date(2026, 10, 1),
        "period_end": date(2026, 12, 31),
        "owner_id": owner,
        "status": status,
        "due_at": due,
        "created_at": T - timedelta(days=30),
        "round": 0,
        "step": 1,
        "next_action_at": None,
        "delegations": 0,
        "first_answer_at": answered,  # the time of its submission below, as the flow sets it
    }


def _submission(request_id: int, at: datetime, decision: str | None = None) -> dict[str, object]:
    return {
        "request_id": request_id,
        "round": 0,
        "submitted_by": "olga",
        "submitted_at": at,
        "not_applicable": False,
        "text": f"Evidence text {request_id}",
        "decision": decision,
        "decided_by": "alice" if decision else None,
        "decided_at": at + timedelta(hours=1) if decision else None,
    }
