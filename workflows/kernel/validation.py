"""The one rule for free text in forms, so every process words its field errors the same way."""

from __future__ import annotations

from collections.abc import Mapping


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
