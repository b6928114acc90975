"""The one rule for free text in forms, so every process words its field errors the same way, and the
one reading of a command that names an item and says why (``cancel AUD-2026-0001 <why>``)."""

from __future__ import annotations

from collections.abc import Mapping

from workflows.kernel.access import Refused


def ref_and_reason(text: str, usage: str) -> tuple[str, str]:
    """``REF <why …>`` as (ref, the reason on one line); ``Refused(usage)`` when either is missing: a
    cancellation without a reason tells nobody why."""
    ref, _, reason = text.strip().partition(" ")
    reason = " ".join(reason.split())
    if not ref or not reason:
        raise Refused(usage)
    return ref, reason


def check_text(
    values: Mapping[str, str], name: str, limit: int, *, required: bool = True, what: str = "this field"
) -> dict[str, str]:
    """Required means not blank; at most ``limit`` characters. Returns ``{name: problem}`` or ``{}``."""
    value = (values.get(name) or "").strip()
    if required and not value:
        return {name: f"Please fill in {what}."}
    if len(value) > limit:
        return {name: f"At most {limit:,} characters, please (this has {len(value):,})."}
    return {}
