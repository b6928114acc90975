"""Writes to the registers: a whole file imported in one unit of work, and an item's field changed by
its owner. Every stored change is a record: ``item-imported`` with the item's values, or
``item-changed`` with the field, the old and the new value."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from storage.models.registers import RegisterItem
from workflows.kernel.actors import Actor
from workflows.kernel.work import Context, Work
from workflows.registers import files
from workflows.registers.kinds import Kind, Value
from workflows.registers.lifecycle import set_values, values_of


@dataclass(frozen=True)
class ImportResult:
    added: int
    changed: int
    unchanged: int

    def __str__(self) -> str:
        return f"{self.added} added, {self.changed} changed, {self.unchanged} unchanged"


def import_items(work: Work, kind: Kind, rows: list[dict[str, Value]], source: str) -> ImportResult:
    """Store checked rows (``files.parse``) by id: new ids are added, known ones updated field by field,
    ids not in the file are left as they are. Importing the same file twice changes nothing the second time."""
    refs = [str(row["id"]) for row in rows]
    known = {
        item.ref: item
        for item in work.session.scalars(select(RegisterItem).where(RegisterItem.kind == kind.name).with_for_update())
        if item.ref in set(refs)
    }
    added = changed = 0
    for row in rows:
        ref = str(row["id"])
        item = known.get(ref)
        subject = (kind.name, ref)
        if item is None:
            item = RegisterItem(kind=kind.name, fields={}, created_at=work.now, updated_at=work.now)
            set_values(kind, item, row)
            work.session.add(item)
            work.record(kind.process, "item-imported", subject, {"source": source, **row})
            added += 1
            continue
        if change_fields(work, kind, item, row, source=source):
            changed += 1
    return ImportResult(added, changed, len(rows) - added - changed)


def change_fields(work: Work, kind: Kind, item: RegisterItem, new: dict[str, Value], **context: str) -> bool:
    """Set the fields of ``new`` that differ, one ``item-changed`` record each with the old value;
    False when nothing differed."""
    old = values_of(kind, item)
    differing = {name: value for name, value in new.items() if old.get(name) != value}
    for name, value in differing.items():
        work.record(
            kind.process,
            "item-changed",
            (kind.name, item.ref),
            {"field": name, "old": old.get(name), "new": value, **context},
        )
    if differing:
        set_values(kind, item, differing)
        item.updated_at = work.now
    return bool(differing)


CLI = Actor(id="cli", name="isms-bot command line", roles=frozenset())
"""Who imports a file from the command line (records name it; the shell's user is outside the bot's view)."""


def import_file(ctx: Context, kind: Kind, path: Path) -> ImportResult:
    """Check the whole file, then store it in one transaction; ``RegisterFileError`` stores nothing."""
    rows = files.parse(kind, files.read_sheet(path), ctx.org)
    with ctx.work(CLI) as work:
        return import_items(work, kind, rows, path.name)
