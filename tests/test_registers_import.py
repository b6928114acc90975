"""Register files through the command line: every kind from CSV and XLSX, bad files refused whole
with row and column named, re-import by id recording only what changed, and export round trips."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select
from typer.testing import CliRunner

from bot.cli import app
from config.errors import ConfigError
from config.settings import PACKAGED_EXAMPLE_ORG
from storage.models import Record, RegisterItem
from tests.world import World, make_world

EXAMPLES = Path(__file__).parent.parent / "config" / "examples"
FILES = {
    "risk": "risks",
    "control": "controls",
    "asset": "assets",
    "supplier": "suppliers",
    "requirement": "requirements",
    "party": "parties",
}
PROCESSES = {"risk": "RA", "control": "RT", "asset": "RA", "supplier": "SUP", "requirement": "REQ", "party": "CRM"}


@pytest.fixture
def world(settings, clock) -> Iterator[World]:
    world = make_world(settings, clock)
    yield world
    world.close()


def cli(db_url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"ISMS_DATABASE_URL": db_url})
    return result.exit_code, result.output


def as_xlsx(source: Path, target: Path) -> Path:
    """The CSV as a spreadsheet a person would save: numbers as numbers."""
    workbook = Workbook()
    sheet = workbook.active
    with source.open(encoding="utf-8") as handle:
        for row in csv.reader(handle):
            sheet.append([int(cell) if cell.isdigit() else (cell or None) for cell in row])
    workbook.save(target)
    return target


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def items(world: World, kind: str) -> dict[str, RegisterItem]:
    with world.ctx.read() as session:
        found = session.scalars(select(RegisterItem).where(RegisterItem.kind == kind))
        return {item.ref: item for item in found}


def record_count(world: World) -> int:
    with world.ctx.read() as session:
        return session.scalar(select(func.count()).select_from(Record)) or 0


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_every_kind_imports_from_csv_and_xlsx(world, db_url, tmp_path, fmt):
    for kind, name in FILES.items():
        source = EXAMPLES / f"{name}.csv"
        path = source if fmt == "csv" else as_xlsx(source, tmp_path / f"{name}.xlsx")
        code, output = cli(db_url, "registers", "import", kind, str(path))
        rows = len(source.read_text(encoding="utf-8").strip().splitlines()) - 1
        assert code == 0, output
        assert f"{kind} register imported ({rows} added, 0 changed, 0 unchanged)" in output
        assert len(items(world, kind)) == rows
        imported = world.records(action="item-imported", process=PROCESSES[kind])
        assert {subject for _, _, subject, _ in imported} >= set(items(world, kind))
    risk = items(world, "risk")["R-002"]
    assert (risk.title, risk.owner, risk.status, risk.level) == (
        "Phishing leads to account takeover",
        "erin",
        "open",
        12,
    )
    assert risk.fields["likelihood"] == 4 and risk.fields["controls"] == "A.5.17; A.8.5"
    assert items(world, "risk")["R-003"].level == 6  # no residual rating: the rating before treatment counts
    control = items(world, "control")["A.5.24"]
    assert control.title == "Incident handling planned and prepared"  # from the Annex A catalogue
    assert items(world, "control")["ORG-1"].title == "Quarterly phishing simulation"
    supplier = items(world, "supplier")["S-001"]
    assert (
        supplier.fields["contract_end"] == "2027-03-31"
        and supplier.fields["contact_email"] == "security@cloudhost.example"
    )
    _, _, _, data = world.records(action="item-imported", process="RA")[0]
    assert data["source"] == f"risks.{fmt}" and data["owner"] == "olga"


BAD_FILES = {
    "unknown column": (
        "id,title,owner,likelihood,impact,colour\nR-1,Fire,olga,2,2,red\n",
        ["row 1, column colour: unknown column"],
    ),
    "duplicate id": (
        "id,title,owner,likelihood,impact\nR-1,Fire,olga,2,2\nR-2,Flood,olga,1,1\nR-1,Fire again,olga,3,3\n",
        ["row 4, column id: duplicate id 'R-1' (first on row 2)"],
    ),
    "likelihood out of the scale": (
        "id,title,owner,likelihood,impact\nR-1,Fire,olga,2,2\nR-2,Flood,olga,6,1\n",
        ["row 3, column likelihood: '6' is outside the likelihood scale 1 to 5"],
    ),
    "owner not in the organisation": (
        "id,title,owner,likelihood,impact\nR-1,Fire,olga,2,2\nR-2,Flood,zed@example.org,1,1\n",
        ["row 3, column owner: 'zed@example.org' is not a person of the organisation"],
    ),
    "missing required value and column": (
        "id,title,likelihood,impact\nR-1,,2,2\n",
        ["row 1, column owner: required column is missing"],
    ),
    "several problems": (
        "id,title,owner,likelihood,impact,next_review\nR-1,,olga,0,2,soon\n",
        [
            "row 2, column title: missing (required)",
            "row 2, column likelihood: '0' is outside the likelihood scale 1 to 5",
            "row 2, column next_review: 'soon' is not a date (write YYYY-MM-DD)",
        ],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_bad_file_is_refused_with_row_and_column_and_nothing_is_stored(world, db_url, tmp_path, case):
    text, problems = BAD_FILES[case]
    before = record_count(world)
    code, output = cli(db_url, "registers", "import", "risk", str(write_csv(tmp_path / "risks.csv", text)))
    assert code == 1
    assert "not imported, nothing stored" in output
    for problem in problems:
        assert problem in output
    assert items(world, "risk") == {} and record_count(world) == before


def test_a_bad_xlsx_row_names_its_row_and_column(world, db_url, tmp_path):
    source = write_csv(
        tmp_path / "bad.csv", "id,name,type,owner,classification\nAS-1,Laptops,hardware,olga,top secret\n"
    )
    code, output = cli(db_url, "registers", "import", "asset", str(as_xlsx(source, tmp_path / "bad.xlsx")))
    assert code == 1 and "row 2, column classification: 'top secret' is not one of public, internal" in output
    assert items(world, "asset") == {}


def test_control_ids_are_checked_against_annex_a(world, db_url, tmp_path):
    text = "id,name,applicable\nA.5.38,,yes\nA.9.1,,no\nORG-7,,yes\n"
    code, output = cli(db_url, "registers", "import", "control", str(write_csv(tmp_path / "c.csv", text)))
    assert code == 1
    assert "row 2, column id: 'A.5.38' is not an ISO/IEC 27001:2022 Annex A control" in output
    assert "row 3, column id: 'A.9.1' looks like an Annex A id but is not one" in output
    assert "row 4, column name: missing (required for the organisation's own controls)" in output


def test_reimport_by_id_changes_nothing_and_a_changed_cell_is_one_record_with_the_old_value(world, db_url, tmp_path):
    source = EXAMPLES / "risks.csv"
    assert cli(db_url, "registers", "import", "risk", str(source))[0] == 0
    before = record_count(world)
    code, output = cli(db_url, "registers", "import", "risk", str(source))
    assert code == 0 and "(0 added, 0 changed, 3 unchanged)" in output
    assert record_count(world) == before

    changed = source.read_text(encoding="utf-8").replace(
        "AS-002,Credential phishing,erin,4,4", "AS-002,Credential phishing,olga,2,4"
    )
    code, output = cli(db_url, "registers", "import", "risk", str(write_csv(tmp_path / "risks.csv", changed)))
    assert code == 0 and "(0 added, 1 changed, 2 unchanged)" in output
    changes = [
        (subject, data["field"], data["old"], data["new"])
        for _, _, subject, data in world.records("item-changed", "RA")
    ]
    assert changes == [("R-002", "owner", "erin", "olga"), ("R-002", "likelihood", 4, 2)]
    assert items(world, "risk")["R-002"].owner == "olga"


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_imports_back_unchanged(world, db_url, tmp_path, fmt):
    for kind, name in FILES.items():
        assert cli(db_url, "registers", "import", kind, str(EXAMPLES / f"{name}.csv"))[0] == 0
    before = record_count(world)
    for kind in FILES:
        out = tmp_path / f"{kind}.{fmt}"
        code, output = cli(db_url, "registers", "export", kind, "--format", fmt, "--out", str(out))
        assert code == 0, output
        code, output = cli(db_url, "registers", "import", kind, str(out))
        assert code == 0 and "0 added, 0 changed" in output, output
    assert record_count(world) == before
    if fmt == "xlsx":
        sheet = load_workbook(tmp_path / "risk.xlsx").worksheets[0]
        assert [cell.value for cell in sheet[3]][:7] == [
            "R-002",
            "Phishing leads to account takeover",
            "AS-002",
            "Credential phishing",
            "erin",
            4,
            4,
        ]


def test_csv_export_to_standard_output_is_the_file_that_was_imported(world, db_url):
    source = EXAMPLES / "risks.csv"
    assert cli(db_url, "registers", "import", "risk", str(source))[0] == 0
    result = CliRunner().invoke(app, ["registers", "export", "risk"], env={"ISMS_DATABASE_URL": db_url})
    assert result.exit_code == 0
    assert list(csv.reader(io.StringIO(result.stdout))) == list(
        csv.reader(io.StringIO(source.read_text(encoding="utf-8")))
    )


def org_with_register_files(tmp_path: Path, risks: str) -> Path:
    """The example organisation naming a risk register file next to it."""
    org = yaml.safe_load(PACKAGED_EXAMPLE_ORG.read_text(encoding="utf-8"))
    org["registers"] = {"files": {"risk": "registers/risks.csv"}}
    (tmp_path / "registers").mkdir(exist_ok=True)
    (tmp_path / "registers" / "risks.csv").write_text(risks, encoding="utf-8")
    path = tmp_path / "org.yaml"
    path.write_text(yaml.safe_dump(org, sort_keys=False), encoding="utf-8")
    return path


def test_register_files_named_in_the_organisation_file_are_imported_at_start(settings, clock, db_url, tmp_path):
    path = org_with_register_files(tmp_path, (EXAMPLES / "risks.csv").read_text(encoding="utf-8"))
    world = make_world(settings, clock, path)
    try:
        assert sorted(items(world, "risk")) == ["R-001", "R-002", "R-003"]
        assert {who for who, _, _, _ in world.records("item-imported", "RA")} == {"config"}
        before = record_count(world)
        make_world(settings, clock, path).close()  # a restart with the same files records nothing
        assert record_count(world) == before
    finally:
        world.close()
    result = CliRunner().invoke(app, ["config", "check"], env={"ISMS_DATABASE_URL": db_url, "ISMS_CONFIG": str(path)})
    assert result.exit_code == 0, result.output


def test_a_bad_register_file_named_in_the_organisation_file_stops_the_start(settings, clock, db_url, tmp_path):
    path = org_with_register_files(tmp_path, "id,title,owner,likelihood,impact\nR-1,Fire,olga,7,2\n")
    result = CliRunner().invoke(app, ["config", "check"], env={"ISMS_DATABASE_URL": db_url, "ISMS_CONFIG": str(path)})
    assert result.exit_code == 2
    unwrapped = result.output.replace("\n", "")  # the console wraps long lines
    assert "registers/risks.csv: row 2, column likelihood: '7' is outside the likelihood scale 1 to 5" in unwrapped
    with pytest.raises(ConfigError):
        make_world(settings, clock, path)
