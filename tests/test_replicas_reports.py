"""Issue 10: 200 simultaneous reports across two replicas (two servers on one PostgreSQL database)
give 200 incidents numbered without gaps, each acknowledged once its request was stored in the intake
and run exactly once by an intake worker afterwards, and a records chain that verifies once the linker
has run."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from sqlalchemy import func, select

from bot.server import BotServer
from bot.slack.app import GOT_IT
from config.settings import load_settings
from storage import migrate, records
from storage.db import make_engine, make_sessions
from storage.models import Incident, IntakeRequest, OutboxEffect
from tests.conftest import BOT_TOKEN, SIGNING_SECRET
from tests.doubles.signing import FORM_CONTENT_TYPE, post_signed, slash_command_body
from tests.support import eventually

REPORTS = 200
USERS = ("U0ERIN", "U0OLGA", "U0MIA", "U0ALDO", "U0DORA", "U0HANA", "U0SAM", "U0ALICE")


def test_two_replicas_number_200_simultaneous_reports_without_gaps(postgres_url, slack):
    engine = make_engine(postgres_url)
    migrate.upgrade(engine)
    settings = load_settings(
        ISMS_DATABASE_URL=postgres_url,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=slack.base_url,
        ISMS_OUTBOX_BACKOFF_BASE=0.01,
        ISMS_OUTBOX_BACKOFF_CAP=0.05,
    )
    with BotServer(settings) as first, BotServer(settings) as second:

        def report(index: int) -> tuple[int, str]:
            server = (first, second)[index % 2]
            body = slash_command_body(
                "/incident",
                f"Phishing wave, report {index}",
                USERS[index % len(USERS)],
                response_url=slack.response_url(f"r{index}"),
            )
            return post_signed(server.url + "/slack/events", SIGNING_SECRET, body, FORM_CONTENT_TYPE)

        with ThreadPoolExecutor(REPORTS) as pool:
            answers = list(pool.map(report, range(REPORTS)))
        assert answers == [(200, GOT_IT)] * REPORTS  # both replicas stored each report, none ran it inline

        sessions = make_sessions(engine)
        with sessions() as session:  # every acknowledged request is stored before its acknowledgement
            assert session.scalar(select(func.count()).select_from(IntakeRequest)) == REPORTS

        def all_done() -> bool:
            with sessions() as session:
                return not session.scalar(
                    select(func.count()).select_from(IntakeRequest).where(IntakeRequest.status != "done")
                )

        assert eventually(all_done, timeout=120)
        with sessions() as session:
            numbers = sorted(session.scalars(select(Incident.number)))
            replies = session.scalars(select(OutboxEffect.key).where(OutboxEffect.key.like("reply:%"))).all()
        assert numbers == list(range(1, REPORTS + 1))
        assert len(replies) == REPORTS
        slack.wait_for(lambda call: call.path.startswith("/response/"), count=REPORTS, timeout=60)

        with sessions.begin() as session:
            records.link_pending(session, datetime.now(UTC))
        with sessions() as session:
            verification = records.verify(session)
        assert verification.broken_seq is None, verification.reason
        assert verification.unlinked == 0 and verification.count >= REPORTS
    engine.dispose()
