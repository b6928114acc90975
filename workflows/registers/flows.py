"""Writes to the registers: a whole file imported in one unit of work, and an item's field changed by
its owner. Every stored change is a record: ``item-imported`` with the item's values, or
``item-changed`` with the field, the old and the new value."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from config.errors import ConfigError
from config.organisation import Organisation
from storage.models.registers import RegisterItem
from workflows.kernel.actors import Actor
from workflows.kernel.work import Context, Work
from workflows.registers import files, reviews
from workflows.registers.kinds import KINDS, Kind, Value
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
    refs = {str(row["id"]) for row in rows}
    query = select(RegisterItem).where(RegisterItem.kind == kind.name).with_for_update()
    known = {item.ref: item for item in work.session.scalars(query) if item.ref in refs}
    added = changed = 0
    for row in rows:
        ref = str(row["id"])
        item = known.get(ref)
        subject = (kind.name, ref)
        if item is None:
            item = RegisterItem(kind=kind.name, fields={}, created_at=work.now, updated_at=work.now)
            set_values(kind, item, row)
            reviews.plan(work.ctx.org, item)
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
        reviews.plan(work.ctx.org, item)
        item.updated_at = work.now
    return bool(differing)


CLI = Actor(id="cli", name="isms-bot command line", roles=frozenset())
"""Who imports a file from the command line (records name it; the shell's user is outside the bot's view)."""
CONFIGURED = Actor(id="config", name="the organisation file", roles=frozenset())
"""Who imports the register files the organisation file names (``registers.files``) at start."""


def import_file(ctx: Context, kind: Kind, path: Path, actor: Actor = CLI) -> ImportResult:
    """Check the whole file, then store it in one transaction; ``RegisterFileError`` stores nothing."""
    rows = files.parse(kind, files.read_sheet(path), ctx.org)
    with ctx.work(actor) as work:
        return import_items(work, kind, rows, path.name)


def configured_files(org: Organisation, config_path: Path) -> dict[Kind, Path]:
    """The register files of ``registers.files``, relative to the organisation file."""
    return {KINDS[kind]: config_path.parent / path for kind, path in org.registers.files.items()}


def check_configured_files(org: Organisation, config_path: Path) -> None:
    """Start-up and ``config check``: every configured register file must import cleanly; a
    ``ConfigError`` names the file, the row and the column otherwise."""
    for kind, path in configured_files(org, config_path).items():
        try:
            files.parse(kind, files.read_sheet(path), org)
        except files.RegisterFileError as error:
            raise ConfigError(path, [(p.where, p.problem) for p in error.problems]) from None


def import_configured_files(ctx: Context, config_path: Path) -> None:
    """Bring the registers in line with the configured files (checked already); unchanged rows
    record nothing, so every start may do it. A replica starting at the same moment may have added
    the same ids first: then the import runs once more and finds them."""
    for kind, path in configured_files(ctx.org, config_path).items():
        try:
            import_file(ctx, kind, path, CONFIGURED)
        except IntegrityError:
            import_file(ctx, kind, path, CONFIGURED)
