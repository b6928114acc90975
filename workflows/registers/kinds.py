"""What each register holds: its columns (the CSV/XLSX headings, in order), which are required, and
how each value is checked and normalised. Import, export, lists and forms all read these
descriptions, so a column is defined once.

A checker takes the cell's text (already stripped) and returns the stored value, or raises
``ValueError`` with what is wrong in words a person fixes their spreadsheet by.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from config.annex_a import ANNEX_A_ID, annex_a
from config.organisation import Organisation
from config.register_settings import RegisterKind
from workflows.kernel.people import find_person

Value = str | int | None
Checker = Callable[[str, Organisation], Value]

REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
ACTIVITY = re.compile(r"^[A-Z][A-Z0-9]*(\.[A-Z0-9]+)*/[a-z0-9]+(-[a-z0-9]+)*$")


def text(limit: int = 300) -> Checker:
    def check(value: str, org: Organisation) -> Value:
        if len(value) > limit:
            raise ValueError(f"is {len(value)} characters long; at most {limit}")
        return value

    return check


def choice(*options: str) -> Checker:
    def check(value: str, org: Organisation) -> Value:
        word = value.lower().replace(" ", "_")
        if word not in options:
            raise ValueError(f"{value!r} is not one of {', '.join(options)}")
        return word

    return check


def scale(axis: str) -> Checker:
    """Likelihood or impact on the organisation's scale (``registers.likelihood_levels`` ...)."""

    def check(value: str, org: Organisation) -> Value:
        top = getattr(org.registers, f"{axis}_levels")
        if not value.isdigit() or not 1 <= int(value) <= top:
            raise ValueError(f"{value!r} is outside the {axis} scale 1 to {top}")
        return int(value)

    return check


def day(value: str, org: Organisation) -> Value:
    try:
        return date.fromisoformat(value[:10]).isoformat()
    except ValueError:
        raise ValueError(f"{value!r} is not a date (write YYYY-MM-DD)") from None


def person(value: str, org: Organisation) -> Value:
    found = find_person(org, value)
    if found is None:
        raise ValueError(f"{value!r} is not a person of the organisation (a person id or e-mail)")
    return found.id


def email(value: str, org: Organisation) -> Value:
    if not EMAIL.match(value) or len(value) > 254:
        raise ValueError(f"{value!r} is not an e-mail address")
    return value.lower()


def listing(pattern: re.Pattern[str] | None = None) -> Checker:
    """Several values in one cell, separated by ``;`` (or ``,``), kept in the given order."""

    def check(value: str, org: Organisation) -> Value:
        parts = [part.strip() for part in re.split(r"[;,]", value) if part.strip()]
        for part in parts:
            if pattern is not None and not pattern.match(part):
                raise ValueError(f"{part!r} is not a valid entry")
        return "; ".join(parts)

    return check


def ref(value: str, org: Organisation) -> Value:
    if not REF.match(value):
        raise ValueError(f"{value!r} is not an id (letters, digits, '.', '_' or '-', at most 64)")
    return value


def control_ref(value: str, org: Organisation) -> Value:
    """An Annex A id from the catalogue, or the organisation's own id (anything not shaped like A.x.y)."""
    ref(value, org)
    if ANNEX_A_ID.match(value) and value not in annex_a():
        raise ValueError(f"{value!r} is not an ISO/IEC 27001:2022 Annex A control (A.5.1 to A.8.34)")
    if value.startswith("A.") and not ANNEX_A_ID.match(value):
        raise ValueError(f"{value!r} looks like an Annex A id but is not one (A.5.1 to A.8.34)")
    return value


@dataclass(frozen=True)
class Column:
    name: str
    check: Checker
    required: bool = False
    purpose: str = ""


@dataclass(frozen=True)
class Kind:
    """One register."""

    name: RegisterKind
    plural: str
    """The chat command (``/isms risks``) and how people name the register."""
    process: str
    """The process whose records hold this register's history."""
    title: str
    """The column that names an item (``title`` or ``name``)."""
    columns: tuple[Column, ...]
    statuses: tuple[str, ...]

    @property
    def headings(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    def column(self, name: str) -> Column | None:
        return next((column for column in self.columns if column.name == name), None)


def _status(*options: str) -> Column:
    return Column("status", choice(*options), purpose=f"{', '.join(options)} (default {options[0]})")


KINDS: Mapping[str, Kind] = {
    "risk": Kind(
        "risk",
        "risks",
        "RA",
        "title",
        (
            Column("id", ref, True, "e.g. R-001"),
            Column("title", text(300), True, "the risk in a sentence"),
            Column("assets", listing(REF), purpose="asset ids, separated by ;"),
            Column("threat", text(500), purpose="what could happen"),
            Column("owner", person, True, "the risk owner: person id or e-mail"),
            Column("likelihood", scale("likelihood"), True, "before treatment, 1 to the scale's top"),
            Column("impact", scale("impact"), True, "before treatment"),
            Column("residual_likelihood", scale("likelihood"), purpose="after treatment (default: as before)"),
            Column("residual_impact", scale("impact"), purpose="after treatment (default: as before)"),
            Column("treatment", choice("reduce", "accept", "avoid", "transfer"), purpose="the treatment option"),
            Column("plan", text(2000), purpose="the treatment plan in words"),
            Column("controls", listing(REF), purpose="control ids, separated by ;"),
            _status("open", "treated", "accepted", "closed"),
            Column("next_review", day, purpose="YYYY-MM-DD"),
        ),
        ("open", "treated", "accepted", "closed"),
    ),
    "control": Kind(
        "control",
        "controls",
        "RT",
        "name",
        (
            Column("id", control_ref, True, "A.5.1 ... A.8.34, or the organisation's own id"),
            Column("name", text(300), purpose="required for the organisation's own controls"),
            Column("applicable", choice("yes", "no"), True, "yes or no"),
            Column("justification", text(1000), purpose="why it applies, or why not"),
            _status("not_started", "planned", "partial", "implemented"),
            Column("owner", person, purpose="person id or e-mail"),
            Column("activities", listing(ACTIVITY), purpose="evidence activities (PROCESS/activity), separated by ;"),
        ),
        ("not_started", "planned", "partial", "implemented"),
    ),
    "asset": Kind(
        "asset",
        "assets",
        "RA",
        "name",
        (
            Column("id", ref, True, "e.g. AS-001"),
            Column("name", text(300), True),
            Column("type", choice("information", "software", "hardware", "service", "people", "site"), True),
            Column("owner", person, True, "person id or e-mail"),
            Column("classification", choice("public", "internal", "confidential", "secret"), True),
            _status("in_use", "retired"),
        ),
        ("in_use", "retired"),
    ),
    "supplier": Kind(
        "supplier",
        "suppliers",
        "SUP",
        "name",
        (
            Column("id", ref, True, "e.g. S-001"),
            Column("name", text(300), True),
            Column("service", text(500), True, "what they provide"),
            Column("criticality", choice("critical", "high", "medium", "low"), True),
            Column("owner", person, True, "the internal owner: person id or e-mail"),
            Column("contact_email", email, purpose="the supplier's security contact"),
            Column("contract_end", day, purpose="YYYY-MM-DD"),
            Column("last_review", day, purpose="YYYY-MM-DD"),
            _status("active", "ended"),
        ),
        ("active", "ended"),
    ),
    "requirement": Kind(
        "requirement",
        "requirements",
        "REQ",
        "title",
        (
            Column("id", ref, True, "e.g. REQ-001"),
            Column("title", text(300), True),
            Column("type", choice("legal", "regulatory", "contractual", "other"), True),
            Column("source", text(500), True, "the law, regulation or contract"),
            Column("owner", person, True, "person id or e-mail"),
            Column("next_check", day, purpose="YYYY-MM-DD"),
            _status("current", "obsolete"),
        ),
        ("current", "obsolete"),
    ),
    "party": Kind(
        "party",
        "parties",
        "CRM",
        "name",
        (
            Column("id", ref, True, "e.g. IP-001"),
            Column("name", text(300), True, "who they are"),
            Column("expectations", text(1000), True, "what they expect of our security"),
            Column("measure", text(500), purpose="how their satisfaction is measured"),
            Column("owner", person, True, "person id or e-mail"),
            _status("active", "inactive"),
        ),
        ("active", "inactive"),
    ),
}
BY_PLURAL = {kind.plural: kind for kind in KINDS.values()}


def level(fields: Mapping[str, Any]) -> int | None:
    """A risk's residual level: residual likelihood x impact, falling back to the values before treatment."""
    likelihood = fields.get("residual_likelihood") or fields.get("likelihood")
    impact = fields.get("residual_impact") or fields.get("impact")
    return int(likelihood) * int(impact) if likelihood and impact else None
