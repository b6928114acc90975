"""Register files: reading a CSV or XLSX sheet into checked values, and writing a register back out.

A file is checked whole before anything is stored: every problem is reported with its row (the
heading is row 1, as a spreadsheet numbers it) and column, and a file with any problem stores
nothing, so a register is never half-imported.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Literal

from config.annex_a import annex_a
from config.organisation import Organisation
from workflows.registers.kinds import Kind, Value

FileFormat = Literal["csv", "xlsx"]
MAX_ROWS = 20_000
MAX_PROBLEMS = 50
"""Problems listed for one file; a wholly wrong file would otherwise print thousands of lines."""


@dataclass(frozen=True)
class Problem:
    row: int
    column: str
    problem: str

    @property
    def where(self) -> str:
        """``row 3, column likelihood``; empty for a problem with the whole file."""
        if not self.row:
            return ""
        return f"row {self.row}" + (f", column {self.column}" if self.column else "")

    def __str__(self) -> str:
        return f"{self.where}: {self.problem}" if self.where else self.problem


class RegisterFileError(Exception):
    """The file cannot be imported; ``problems`` says where and why. Nothing was stored."""

    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


def format_of(path: Path) -> FileFormat:
    suffix = path.suffix.lower()
    if suffix in (".csv", ".xlsx"):
        return "csv" if suffix == ".csv" else "xlsx"
    raise RegisterFileError([Problem(0, "", f"{path.name} is neither a .csv nor a .xlsx file")])


def _cell(value: object) -> str:
    """A spreadsheet cell as the text a person typed: dates as YYYY-MM-DD, 3.0 as 3."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def read_sheet(path: Path) -> list[list[str]]:
    """The rows of a CSV file or of an XLSX file's first sheet, as text."""
    try:
        if format_of(path) == "csv":
            with path.open(encoding="utf-8-sig", newline="") as handle:
                return [[cell.strip() for cell in row] for row in csv.reader(handle)]
        from openpyxl import load_workbook  # only when a spreadsheet is read: ~150 ms off every start

        workbook = load_workbook(path, read_only=True, data_only=True)
        try:
            sheet = workbook.worksheets[0]
            return [[_cell(value) for value in row] for row in sheet.iter_rows(values_only=True)]
        finally:
            workbook.close()
    except FileNotFoundError:
        raise RegisterFileError([Problem(0, "", f"{path} does not exist")]) from None
    except UnicodeDecodeError:
        raise RegisterFileError([Problem(0, "", f"{path.name} is not UTF-8 text")]) from None
    except (OSError, ValueError, KeyError) as error:  # openpyxl: not a zip, not a workbook
        raise RegisterFileError([Problem(0, "", f"{path.name} cannot be read as a spreadsheet ({error})")]) from None


def parse(kind: Kind, rows: list[list[str]], org: Organisation) -> list[dict[str, Value]]:
    """Every data row checked against ``kind``; raises ``RegisterFileError`` listing every problem."""
    if not rows or not any(rows[0]):
        raise RegisterFileError([Problem(1, "", f"no heading row; the columns are {', '.join(kind.headings)}")])
    headings = [heading.strip().lower() for heading in rows[0]]
    problems: list[Problem] = []
    for heading in headings:
        if heading and kind.column(heading) is None:
            problems.append(
                Problem(1, heading, f"unknown column; a {kind.name} register has {', '.join(kind.headings)}")
            )
    for column in kind.columns:
        count = headings.count(column.name)
        if column.required and count == 0:
            problems.append(Problem(1, column.name, "required column is missing"))
        if count > 1:
            problems.append(Problem(1, column.name, "column appears twice"))
    if problems:
        raise RegisterFileError(problems)
    if len(rows) - 1 > MAX_ROWS:
        raise RegisterFileError([Problem(0, "", f"{len(rows) - 1:,} rows; at most {MAX_ROWS:,} in one file")])
    items: list[dict[str, Value]] = []
    first_row: dict[str, int] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        cells = dict(zip(headings, row, strict=False))
        values: dict[str, Value] = {}
        for column in kind.columns:
            raw = cells.get(column.name, "").strip()
            if not raw:
                if column.required:
                    problems.append(Problem(number, column.name, "missing (required)"))
                values[column.name] = None
                continue
            try:
                values[column.name] = column.check(raw, org)
            except ValueError as error:
                problems.append(Problem(number, column.name, str(error)))
        problems.extend(_defaults(kind, values, number))
        ref = values.get("id")
        if isinstance(ref, str):
            if ref in first_row:
                problems.append(Problem(number, "id", f"duplicate id {ref!r} (first on row {first_row[ref]})"))
            first_row.setdefault(ref, number)
        items.append(values)
        if len(problems) >= MAX_PROBLEMS:
            break
    if problems:
        raise RegisterFileError(problems[:MAX_PROBLEMS])
    return items


def _defaults(kind: Kind, values: dict[str, Value], row: int) -> list[Problem]:
    """Fill what the file may leave out (status, an Annex A control's name); say what it may not."""
    if values.get("status") is None:
        values["status"] = kind.statuses[0]
    if kind.name == "control" and not values.get("name"):
        catalogue_name = annex_a().get(str(values.get("id") or ""))
        if catalogue_name is None and values.get("id"):
            return [Problem(row, "name", "missing (required for the organisation's own controls)")]
        values["name"] = catalogue_name
    return []


def write_table(kind: Kind, rows: Iterable[Mapping[str, Value]], fmt: FileFormat) -> bytes:
    """The register as a file with the import's columns, so an export imports back unchanged."""
    headings = kind.headings
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(headings)
        for row in rows:
            writer.writerow(["" if row.get(h) is None else row.get(h) for h in headings])
        return buffer.getvalue().encode("utf-8")
    from openpyxl import Workbook  # only when a spreadsheet is written: ~150 ms off every start

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(kind.plural)
    sheet.append(list(headings))
    for row in rows:
        sheet.append([row.get(h) for h in headings])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
