"""The ``incidents:`` section of the organisation file: defaults, and errors that name the key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from config.errors import ConfigError
from config.organisation import load_organisation
from config.settings import PACKAGED_EXAMPLE_ORG
from tests.support import PROCESS_IDS
from workflows.incidents.clocks import add_month


def org_file(tmp_path: Path, incidents: dict | None) -> Path:
    data = yaml.safe_load(PACKAGED_EXAMPLE_ORG.read_text())
    data.pop("incidents", None)
    if incidents is not None:
        data["incidents"] = incidents
    path = tmp_path / "org.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def problems(tmp_path: Path, incidents: dict) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as caught:
        load_organisation(org_file(tmp_path, incidents), PROCESS_IDS)
    return caught.value.problems


def test_without_the_section_the_defaults_apply(tmp_path):
    settings = load_organisation(org_file(tmp_path, None), PROCESS_IDS).incidents
    assert settings.severities.get("P1").triage_within == timedelta(minutes=15)
    assert settings.severities.get("P4").resolve_within == timedelta(days=30)
    assert settings.regulatory.gdpr is True and settings.regulatory.nis2 is False
    assert settings.regulatory.remind_dpo_before == (timedelta(hours=24), timedelta(hours=6), timedelta(hours=1))
    assert settings.emergency_contacts == () and "phishing" in settings.categories


def test_the_example_section_equals_the_defaults_except_the_emergency_contacts(tmp_path):
    example = load_organisation(PACKAGED_EXAMPLE_ORG, PROCESS_IDS).incidents
    default = load_organisation(org_file(tmp_path, None), PROCESS_IDS).incidents
    assert example.emergency_contacts == ("alice", "sam", "mia")
    assert example.emergency_plan_url == "https://intranet.example.org/security/emergency-plan"
    assert example.advice is not None and set(example.advice) == {"phishing", "lost_device"}
    assert example.model_copy(update={"emergency_contacts": (), "advice": None, "emergency_plan_url": None}) == default


def test_one_severity_can_be_overridden_with_readable_durations(tmp_path):
    path = org_file(
        tmp_path,
        {
            "severities": {
                "P1": {
                    "name": "Sev 1",
                    "criteria": "Everything is down",
                    "triage_within": "30m",
                    "resolve_within": "2d",
                }
            },
            "regulatory": {"nis2": True, "remind_dpo_before": ["2h", "1d"]},
        },
    )
    settings = load_organisation(path, PROCESS_IDS).incidents
    assert settings.severities.get("P1").triage_within == timedelta(minutes=30)
    assert settings.severities.get("P2").name == "High"
    assert settings.regulatory.remind_dpo_before == (timedelta(days=1), timedelta(hours=2))


def test_bad_values_are_named_by_key(tmp_path):
    found = problems(
        tmp_path,
        {
            "severities": {
                "P2": {"name": "High", "criteria": "c", "triage_within": "4 hours", "resolve_within": "1d"},
                "P3": {"name": "Medium", "criteria": "c", "triage_within": "2d", "resolve_within": "1d"},
            },
            "untriaged_severity": "P9",
            "categories": {"Phishing!": "Phishing"},
            "regulatory": {"remind_dpo_before": ["0m"]},
            "surprise": 1,
        },
    )
    keys = {key for key, _ in found}
    assert keys == {
        "incidents.severities.P2.triage_within",
        "incidents.severities.P3",
        "incidents.untriaged_severity",
        "incidents.categories",
        "incidents.regulatory.remind_dpo_before",
        "incidents.surprise",
    }
    messages = dict(found)
    assert "write a number and a unit: 15m, 4h, 3d, 2w or 1y" in messages["incidents.severities.P2.triage_within"]
    assert "resolve_within must not be shorter than triage_within" in messages["incidents.severities.P3"]


def test_an_unknown_emergency_contact_stops_start_up(tmp_path):
    assert problems(tmp_path, {"emergency_contacts": ["alice", "nobody"]}) == [
        ("incidents.emergency_contacts.1", "unknown person 'nobody'")
    ]


def test_a_month_later_keeps_the_day_or_takes_the_last_one():
    assert add_month(datetime(2026, 1, 31, 8, 0, tzinfo=UTC)) == datetime(2026, 2, 28, 8, 0, tzinfo=UTC)
    assert add_month(datetime(2026, 12, 15, 8, 0, tzinfo=UTC)) == datetime(2027, 1, 15, 8, 0, tzinfo=UTC)
