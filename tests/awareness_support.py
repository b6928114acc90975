"""Fixtures shared by the awareness and policy tests: the example organisation with departments (and,
for POL, a policy register), and the campaign form's values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select

from config.settings import PACKAGED_EXAMPLE_ORG
from storage.models.awareness import Campaign, CampaignAssignment

DEPARTMENTS = {"Security": ["sam", "hana"], "Operations": ["erin", "olga"], "Management": ["alice", "mia", "dora"]}


def awareness_org(tmp_path: Path, **awareness: Any) -> Path:
    """The example organisation, its evidence programme not live yet, with an ``awareness`` section."""
    org = yaml.safe_load(PACKAGED_EXAMPLE_ORG.read_text(encoding="utf-8"))
    org["activities"]["programme"] = []  # only what these tests start is asked for
    org["awareness"] = {"departments": DEPARTMENTS, **awareness}
    path = tmp_path / "org-awareness.yaml"
    path.write_text(yaml.safe_dump(org, sort_keys=False), encoding="utf-8")
    return path


def campaign_values(**overrides: str) -> dict[str, str]:
    values = {
        "kind": "training",
        "title": "Phishing basics",
        "link": "https://learn.example.org/phishing",
        "text": "Twenty minutes on spotting phishing mails.",
        "version": "",
        "audience_kind": "everyone",
        "audience": "",
        "due": "2026-12-04",
        "reminders": "7, 1",
    }
    values.update(overrides)
    return values


def policy_values(**overrides: str) -> dict[str, str]:
    values = {
        "policy": "POL-ACCESS",
        "title": "Access control",
        "version": "1.0",
        "link": "https://intranet.example.org/policies/access-control-1.0.pdf",
        "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "owner": "",
        "approver": "mia",
        "next_review": "2027-06-30",
        "audience_kind": "role",
        "audience": "owner",
    }
    values.update(overrides)
    return values


def assignments(ctx: Any, ref: str = "AWR-0001") -> dict[str, str]:
    """Person id -> status of every assignment of a campaign."""
    with ctx.read() as session:
        rows = session.execute(
            select(CampaignAssignment.person_id, CampaignAssignment.status)
            .join(Campaign, Campaign.id == CampaignAssignment.campaign_id)
            .where(Campaign.ref == ref)
        )
        return {person: status for person, status in rows}
