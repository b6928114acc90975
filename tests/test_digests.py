"""The weekly digest and the monthly report go to the reports channel through the tick, once per
period, even with two runtimes on one database; a metric over its threshold tells the process owner
and records an improvement suggestion once."""

from __future__ import annotations

from datetime import UTC, datetime

from tests import status_data


def channel_posts(world, prefix):
    return [s for s in world.chat.sent if s.to == "channel:isms_reports" and s.key.startswith(prefix)]


def test_digest_and_monthly_report_once_per_period_with_two_runtimes(settings, clock, tmp_path):
    first = status_data.reporting_world(settings, clock, tmp_path)
    second = status_data.reporting_world(settings, clock, tmp_path)
    try:
        status_data.seed(first)
        clock.set(datetime(2026, 11, 23, 7, 59, tzinfo=UTC))  # Monday 08:59 in Berlin: not yet
        first.tick()
        assert channel_posts(first, "com.weekly-digest") == []
        clock.set(datetime(2026, 11, 23, 8, 0, tzinfo=UTC))  # 09:00 in Berlin
        for _ in range(2):
            first.tick()
            second.tick()
        digests = channel_posts(first, "com.weekly-digest") + channel_posts(second, "com.weekly-digest")
        assert [d.message.text for d in digests] == ["Weekly ISMS digest, 2026-W48"]
        body = digests[0].message.body
        assert "What changed in 2026-W47:" in body and "What is late now:" in body and "Due in 2026-W48:" in body
        assert "Evidence overdue: 1 (SUP 1)" in body and "CHG-2026-0003" in body
        monthly = channel_posts(first, "com.monthly-report") + channel_posts(second, "com.monthly-report")
        assert [m.message.text for m in monthly] == ["Monthly ISMS report, 2026-10"]
        clock.set(datetime(2026, 12, 1, 8, 0, tzinfo=UTC))
        second.tick()
        first.tick()
        monthly = channel_posts(first, "com.monthly-report") + channel_posts(second, "com.monthly-report")
        assert [m.message.text for m in monthly] == ["Monthly ISMS report, 2026-10", "Monthly ISMS report, 2026-11"]
        assert len(first.records(action="report-sent")) == 4  # two digests (W48, W49) and two reports
    finally:
        first.close()
        second.close()


def test_threshold_breach_tells_the_owner_and_records_a_suggestion_once(settings, clock, tmp_path):
    world = status_data.reporting_world(settings, clock, tmp_path)
    try:
        status_data.seed(world)
        world.tick()
        world.tick()
        clock.advance(days=1)
        world.tick()
        told = [(s.to, s.message.text) for s in world.chat.sent if s.key.startswith("perf:breach:")]
        assert (
            "person:sam",
            "Metric over its threshold: Time to triage P1, 90th percentile is 2.0 h in 2026-11 (≤ 0.5)",
        ) in told
        assert len(told) == 1  # the seeded evidence was due in October: November has no on-time rate yet
        suggestions = world.records(action="suggestion", process="IMPR")
        assert [subject for _, _, subject, _ in suggestions] == ["inc.triage.p90.P1"]
    finally:
        world.close()
