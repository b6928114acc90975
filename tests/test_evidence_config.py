"""The programme in the organisation file is checked at start-up: every mistake is named by file and
key, so no activity silently goes unasked."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from bot.runtime import load_config
from config.errors import ConfigError
from config.settings import load_settings
from tests.world import org_file


def problems(tmp_path, programme: list[dict[str, Any]] | None = None, **activities: Any) -> list[tuple[str, str]]:
    path = org_file(tmp_path, programme, **activities)
    with pytest.raises(ConfigError) as raised:
        load_config(load_settings(ISMS_CONFIG=str(path)))
    assert raised.value.source == str(path)
    return raised.value.problems


def test_the_example_programme_covers_all_17_processes():
    loaded = load_config(load_settings())
    programme = loaded.org.activities.programme
    assert {entry.process for entry in programme} == set(loaded.catalogue.ids)
    assert loaded.org.activities.start is not None  # the example goes live on a set day


def test_mistakes_in_the_programme_are_named_by_key(tmp_path):
    found = problems(
        tmp_path,
        [
            {"activity": "RA/risk-review"},
            {"activity": "RA/risk-review"},
            {"activity": "XX/whatever", "name": "x", "evidence": "text", "cadence": "monthly"},
            {"activity": "RA/brand-new"},
            {"activity": "INC/triage"},
            {"activity": "CHG/sync-jira-status"},
            {"activity": "POL/dispose-old-versions", "lead_days": 40},
            {"activity": "RT/export-soa", "owner": "nobody-at-all"},
        ],
    )
    assert found == [
        ("activities.programme.1.activity", "RA/risk-review is listed twice"),
        ("activities.programme.2.activity", "unknown process 'XX'"),
        ("activities.programme.3.activity", "'brand-new' is not in the catalogue, so it needs name, evidence, cadence"),
        ("activities.programme.4.cadence", "INC/triage is on-event in the catalogue: give a recurring cadence here"),
        (
            "activities.programme.5.lead_days",
            "a lead time of 1 day is not shorter than the 15 minutes between due dates",
        ),
        (
            "activities.programme.6.lead_days",
            "a lead time of 40 days is not shorter than the 28 days between due dates",
        ),
        (
            "activities.programme.7.owner",
            "nobody to ask: 'nobody-at-all' is neither a person id nor a role somebody "
            "has (or the process has no owner)",
        ),
    ]


def test_field_mistakes_are_named_by_key(tmp_path):
    org = yaml.safe_load(org_file(tmp_path).read_text())
    org["activities"]["due_time"] = 1020  # what YAML makes of an unquoted 17:00
    org["activities"]["escalation"] = [{"after_days": 7, "to": "owner"}, {"after_days": 1, "to": "boss"}]
    org["activities"]["programme"] = [
        {"activity": "RA/risk-review", "cadence": "on-event"},
        {"activity": "RA/risk-review-2", "cadence": "every tuesday"},
    ]
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(org))
    with pytest.raises(ConfigError) as raised:
        load_config(load_settings(ISMS_CONFIG=str(path)))
    keys = {key: message for key, message in raised.value.problems}
    assert keys["activities.due_time"] == 'Value error, write times as "HH:MM" in quotes, e.g. "17:00"'
    assert keys["activities.escalation.1.to"].startswith("Input should be 'owner', 'manager' or 'isms_manager'")
    assert keys["activities.programme.0.cadence"] == (
        "Value error, on-event activities are started by other workflows, not by the programme"
    )
    assert keys["activities.programme.1.cadence"].startswith("Value error, cadence must be one of yearly, quarterly")


def test_an_own_activity_and_a_role_owner_resolve_to_people(settings, clock, tmp_path):
    from workflows.evidence.activities import programme
    from workflows.kernel.work import Context

    path = org_file(
        tmp_path,
        [
            {
                "activity": "IMP/backup-restore-test",
                "name": "Restore a backup and time it",
                "evidence": "file",
                "cadence": "0 10 15 * *",
                "owner": "security_lead",
                "lead_days": 5,
                "clause": "27001:A.8.13",
            },
            {"activity": "RES/budget-review", "owner": "dora"},
        ],
    )
    loaded = load_config(settings.model_copy(update={"config_path": path}))
    ctx = Context(loaded.org, loaded.catalogue, None, loaded.templates, clock)  # type: ignore[arg-type]
    plans = {plan.key: plan for plan in programme(ctx)}
    restore = plans["IMP/backup-restore-test"]
    assert (restore.owner, restore.evidence, restore.clause, restore.lead.days) == ("sam", "file", "27001:A.8.13", 5)
    assert restore.cadence.next_due_after(clock()).isoformat() == "2026-12-15T09:00:00+00:00"
    budget = plans["RES/budget-review"]
    assert (budget.owner, budget.evidence, budget.cadence.expression) == ("dora", "approval", "quarterly")
