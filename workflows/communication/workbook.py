"""Reports as spreadsheets: ``isms-bot report ... --format xlsx`` writes every table of a report in
full, one sheet per table (the register of an incident, evidence or change report; the metrics and
the processes' evidence health of the status and monthly reports).

Written with openpyxl in its write-only mode, so a register of a million rows streams to the file
instead of sitting in memory. What makes the sheet usable rather than a CSV in disguise: a styled,
frozen header row with a filter, column widths fitted to the first rows, times as real spreadsheet
dates in the organisation's timezone (named in the header, since a spreadsheet cell has no zone) and
counts as numbers. Text that looks like a formula (a summary starting with ``=``) stays text.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import datetime
from itertools import islice
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from workflows.communication.reports import Kind, Register, registers
from workflows.kernel.work import Context
from workflows.performance.periods import Period

DATE_FORMAT = "yyyy-mm-dd hh:mm"
NUMBERS = frozenset({"value", "count", "round", "file_size", "due", "done", "overdue", "answered", "on_time", "open"})
"""Columns whose values are numbers; every ``*_at`` column is a time."""
SAMPLE = 200
"""Rows read before writing a sheet, to fit the column widths (the rest stream behind them)."""
MAX_WIDTH = 60
HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="2C3E50")


def write(ctx: Context, kind: Kind, period: Period, now: datetime) -> bytes:
    """The report's tables as an XLSX file."""
    book = Workbook(write_only=True)
    with ctx.read() as session:
        for register in registers(session, ctx, kind, period, now):
            _sheet(book, register, ctx.org.zone)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _sheet(book: Workbook, register: Register, zone: ZoneInfo) -> None:
    sheet = book.create_sheet(register.title[:31])
    first = list(islice(register.rows, SAMPLE))
    headers = [f"{column} ({zone.key})" if column.endswith("_at") else column for column in register.columns]
    for index, (column, header) in enumerate(zip(register.columns, headers, strict=True), start=1):
        shown = [len(DATE_FORMAT)] if column.endswith("_at") else [len(row.get(column, "")) for row in first]
        sheet.column_dimensions[get_column_letter(index)].width = min(max([len(header), *shown]) + 2, MAX_WIDTH)
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(headers))}1"
    sheet.append([_header(sheet, header) for header in headers])
    for row in _chain(first, register.rows):
        sheet.append([_cell(sheet, column, row.get(column, ""), zone) for column in register.columns])


def _chain(first: list[dict[str, str]], rest: Iterator[dict[str, str]]) -> Iterator[dict[str, str]]:
    yield from first
    yield from rest


def _header(sheet: Any, text: str) -> Any:
    cell = WriteOnlyCell(sheet, value=text)
    cell.font = HEADER_FONT
    cell.fill = HEADER_FILL
    cell.alignment = Alignment(vertical="center")
    return cell


def _cell(sheet: Any, column: str, text: str, zone: ZoneInfo) -> object:
    """A value as the spreadsheet should hold it: a local time, a number, or the text itself."""
    if not text:
        return None
    if column.endswith("_at"):
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is not None:
            moment = moment.astimezone(zone).replace(tzinfo=None)
        cell = WriteOnlyCell(sheet, value=moment)
        cell.number_format = DATE_FORMAT
        return cell
    if column in NUMBERS:
        try:
            number = float(text)
        except ValueError:
            return text
        return int(number) if number.is_integer() and "." not in text else number
    if text[:1] == "=":  # openpyxl would store it as a formula: a summary must never compute anything
        cell = WriteOnlyCell(sheet, value=text)
        cell.data_type = "s"
        return cell
    return text
