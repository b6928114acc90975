"""The process catalogue: the packaged models load, and every broken file names itself and the key."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from config.catalogue import (
    CADENCE_WORDS,
    DEFAULT_CATALOGUE,
    Catalogue,
    InputEdge,
    catalogue_table_rows,
    load_catalogue,
)
from config.errors import ConfigError

EXCERPT_33052 = DEFAULT_CATALOGUE.parent / "ts33052-excerpt.yaml"


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture
def raw() -> dict[str, Any]:
    """The default catalogue as plain data, for tests that break one thing in it."""
    return copy.deepcopy(yaml.safe_load(DEFAULT_CATALOGUE.read_text(encoding="utf-8")))


def write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def problems_of(path: Path) -> dict[str, str]:
    """Load a file expected to fail; return its problems by key after checking it names the file."""
    with pytest.raises(ConfigError) as caught:
        load_catalogue(path)
    assert caught.value.source == str(path)
    assert str(path) in str(caught.value)
    return dict(caught.value.problems)


def index_of(data: dict[str, Any], process_id: str) -> int:
    return next(i for i, p in enumerate(data["processes"]) if p["id"] == process_id)


# --- the default 27022 catalogue -------------------------------------------------------------


def test_default_has_the_17_processes_of_ts27022(catalogue: Catalogue) -> None:
    assert catalogue.model == "ISO/IEC TS 27022:2021"
    assert len(catalogue) == 17
    assert set(catalogue.ids) == {
        "GOV", "POL", "REQ", "RA", "RT", "IMP", "SUP", "AWR", "INC",
        "CHG", "AUD", "PERF", "IMPR", "REC", "RES", "COM", "CRM",
    }  # fmt: skip
    assert [p.id for p in catalogue] == list(catalogue.ids)


def test_default_uses_all_three_categories(catalogue: Catalogue) -> None:
    assert catalogue.categories == ("management", "core", "support")
    by_category = {c: {p.id for p in catalogue if p.category == c} for c in catalogue.categories}
    assert by_category["management"] == {"GOV"}
    assert by_category["support"] == {"REC", "RES", "COM", "CRM"}
    assert len(by_category["core"]) == 12


@pytest.mark.parametrize(
    ("sender", "receiver"),
    [
        ("INC", "CHG"),
        ("CHG", "INC"),
        ("RA", "RT"),
        ("GOV", "CHG"),
        ("AUD", "IMPR"),
        ("REQ", "GOV"),
        ("RT", "IMP"),
        ("IMP", "RT"),
        ("RES", "RT"),
        ("COM", "GOV"),
        ("CRM", "REQ"),
        ("PERF", "AUD"),
        ("SUP", "INC"),
        ("INC", "AWR"),
    ],
)
def test_prm_edges_appear_as_results(catalogue: Catalogue, sender: str, receiver: str) -> None:
    assert receiver in {edge.process for edge in catalogue.get(sender).results}


@pytest.mark.parametrize(
    ("receiver", "sender"),
    [("CHG", "INC"), ("INC", "CHG"), ("RT", "RA"), ("CHG", "GOV"), ("IMPR", "AUD"), ("GOV", "COM"), ("REC", "REQ")],
)
def test_prm_edges_appear_as_inputs(catalogue: Catalogue, receiver: str, sender: str) -> None:
    assert sender in {edge.process for edge in catalogue.get(receiver).inputs}


def test_every_process_sends_results_to_records(catalogue: Catalogue) -> None:
    for process in catalogue:
        if process.id != "REC":
            assert "REC" in {edge.process for edge in process.results}, process.id
    assert {edge.process for edge in catalogue.get("REC").inputs} == set(catalogue.ids) - {"REC"}


def test_each_process_has_two_to_five_activities(catalogue: Catalogue) -> None:
    for process in catalogue:
        assert 2 <= len(process.activities) <= 5, process.id
        assert process.purpose


def test_default_uses_named_and_cron_cadences(catalogue: Catalogue) -> None:
    cadences = {activity.cadence for process in catalogue for activity in process.activities}
    assert {"yearly", "on-event"} <= cadences
    assert cadences - set(CADENCE_WORDS), "expected at least one cron cadence"


def test_management_review_is_a_yearly_approval(catalogue: Catalogue) -> None:
    review = next(a for a in catalogue.get("GOV").activities if a.id == "management-review")
    assert (review.evidence, review.cadence, review.owner_role, review.clause) == (
        "approval",
        "yearly",
        "management",
        "27001:9.3",
    )


def test_get_unknown_process_lists_known_ids(catalogue: Catalogue) -> None:
    with pytest.raises(KeyError, match="GOV"):
        catalogue.get("XYZ")


def test_catalogue_is_frozen(catalogue: Catalogue) -> None:
    with pytest.raises(ValidationError, match="frozen"):
        catalogue.get("GOV").name = "changed"  # type: ignore[misc]


def test_edges_are_built_by_name_or_by_file_key() -> None:
    assert InputEdge(process="RA", what="risks") == InputEdge.model_validate({"from": "RA", "what": "risks"})


def test_table_rows(catalogue: Catalogue) -> None:
    rows = catalogue_table_rows(catalogue)
    assert len(rows) == 17
    gov = rows[0]
    assert gov == (
        "GOV",
        "Information security governance / management interface",
        "management",
        "27001:5.1, 27001:9.3",
        "REQ, COM",
        "REQ, CHG, REC",
        "4",
    )
    assert all(len(row) == 7 and all(isinstance(cell, str) for cell in row) for row in rows)


# --- another model ---------------------------------------------------------------------------


def test_ts33052_excerpt_loads() -> None:
    other = load_catalogue(EXCERPT_33052)
    assert len(other) == 10
    assert set(other.ids) == {
        "ORG.1", "TEC.02", "COM.04", "TEC.04", "COM.05", "TOP.1", "COM.06", "COM.10", "COM.11", "ORG.5",
    }  # fmt: skip
    assert other.get("TEC.04").name == "Incident management"
    assert "TEC.02" in {edge.process for edge in other.get("TEC.04").results}
    assert set(other.categories) == {p.category for p in other}


def test_load_accepts_str_path() -> None:
    assert load_catalogue(str(EXCERPT_33052)).ids == load_catalogue(EXCERPT_33052).ids


# --- broken files ----------------------------------------------------------------------------


def test_unknown_edge_target(tmp_path: Path, raw: dict[str, Any]) -> None:
    i = index_of(raw, "RA")
    raw["processes"][i]["inputs"][1]["from"] = "XYZ"
    raw["processes"][i]["results"][0]["to"] = "ABC"
    problems = problems_of(write(tmp_path, raw))
    assert problems[f"processes.{i}.inputs.1.from"] == "unknown process 'XYZ'"
    assert problems[f"processes.{i}.results.0.to"] == "unknown process 'ABC'"


def test_duplicate_process_id(tmp_path: Path, raw: dict[str, Any]) -> None:
    raw["processes"][2]["id"] = "GOV"
    problems = problems_of(write(tmp_path, raw))
    assert "duplicate process id 'GOV'" in problems["processes.2.id"]


def test_declared_category_without_process(tmp_path: Path, raw: dict[str, Any]) -> None:
    raw["processes"][0]["category"] = "core"  # GOV was the only management process
    problems = problems_of(write(tmp_path, raw))
    assert problems["categories.0"] == "no process has category 'management'"


def test_process_category_not_declared(tmp_path: Path, raw: dict[str, Any]) -> None:
    i = index_of(raw, "COM")
    raw["processes"][i]["category"] = "outreach"
    problems = problems_of(write(tmp_path, raw))
    assert problems[f"processes.{i}.category"] == "category 'outreach' is not declared in categories"


def test_missing_categories_list(tmp_path: Path, raw: dict[str, Any]) -> None:
    del raw["categories"]
    assert problems_of(write(tmp_path, raw))["categories"] == "Field required"


def test_bad_cron(tmp_path: Path, raw: dict[str, Any]) -> None:
    raw["processes"][0]["activities"][1]["cadence"] = "0 9 * *"
    problems = problems_of(write(tmp_path, raw))
    assert "5-field cron" in problems["processes.0.activities.1.cadence"]


def test_bad_cron_field_value(tmp_path: Path, raw: dict[str, Any]) -> None:
    raw["processes"][0]["activities"][0]["cadence"] = "61 * * * *"
    assert "processes.0.activities.0.cadence" in problems_of(write(tmp_path, raw))


def test_duplicate_activity_id(tmp_path: Path, raw: dict[str, Any]) -> None:
    raw["processes"][0]["activities"][2]["id"] = "management-review"
    problems = problems_of(write(tmp_path, raw))
    assert problems["processes.0.activities.2.id"] == "duplicate activity id 'management-review'"


def test_bad_evidence_kind_and_role(tmp_path: Path, raw: dict[str, Any]) -> None:
    raw["processes"][0]["activities"][0]["evidence"] = "photo"
    raw["processes"][0]["activities"][0]["owner_role"] = "ceo"
    problems = problems_of(write(tmp_path, raw))
    assert "processes.0.activities.0.evidence" in problems
    assert "processes.0.activities.0.owner_role" in problems


def test_missing_required_field(tmp_path: Path, raw: dict[str, Any]) -> None:
    del raw["processes"][4]["name"]
    del raw["processes"][0]["results"][0]["to"]
    problems = problems_of(write(tmp_path, raw))
    assert problems["processes.4.name"] == "Field required"
    assert problems["processes.0.results.0.to"] == "Field required"


def test_misspelt_key_is_rejected(tmp_path: Path, raw: dict[str, Any]) -> None:
    raw["processes"][0]["activities"][0]["cadance"] = "yearly"
    assert "processes.0.activities.0.cadance" in problems_of(write(tmp_path, raw))


def test_bad_yaml_syntax_reports_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("model: x\ncategories: [core\nprocesses: []\n", encoding="utf-8")
    problems = problems_of(path)
    message = problems[""]
    assert message.startswith("invalid YAML at line ")
    assert "line 3" in message


def test_not_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("- just\n- a list\n", encoding="utf-8")
    assert "" in problems_of(path)


def test_missing_file(tmp_path: Path) -> None:
    assert "cannot read" in problems_of(tmp_path / "absent.yaml")[""]
