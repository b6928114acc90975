"""The ``awareness:`` section is checked with the whole organisation file: unknown people, an approver
who is also the owner (who writes the file's versions), a bad audience, a bad reminder plan."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from config.errors import ConfigError
from config.organisation import load_organisation
from config.settings import PACKAGED_EXAMPLE_ORG
from tests.support import PROCESS_IDS


def problems(tmp_path: Path, awareness: dict) -> list[tuple[str, str]]:
    org = yaml.safe_load(PACKAGED_EXAMPLE_ORG.read_text(encoding="utf-8"))
    org["awareness"] = awareness
    path = tmp_path / "org.yaml"
    path.write_text(yaml.safe_dump(org), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_organisation(path, PROCESS_IDS)
    return caught.value.problems


POLICY = {
    "id": "POL-AUP",
    "title": "Acceptable use",
    "owner": "olga",
    "approver": "olga",
    "version": "3",
    "link": "https://intranet.example.org/aup.pdf",
    "next_review": "2027-11-01",
}


def test_people_and_the_approver_are_checked_against_the_file(tmp_path):
    found = problems(tmp_path, {"departments": {"Sales": ["zoe"]}, "policies": [POLICY]})
    assert found == [
        ("awareness.departments.Sales", "unknown person 'zoe'"),
        ("awareness.policies.0.approver", "must not be the owner, who authors the file's versions"),
    ]


def test_a_bad_audience_and_reminder_plan_name_their_keys(tmp_path):
    found = problems(
        tmp_path,
        {"remind_before_days": [7, 7], "policies": [{**POLICY, "approver": "alice", "audience": "the sales team"}]},
    )
    assert [key for key, _ in found] == ["awareness.remind_before_days", "awareness.policies.0.audience"]
    assert found[0][1].endswith("distinct numbers of days from 0 to 365")
