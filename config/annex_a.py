"""The 93 controls of ISO/IEC 27001:2022 Annex A as shipped in ``catalogues/annex-a.yaml``: ids and
short names in our own words, which the control register and the Statement of Applicability start from."""

from __future__ import annotations

import functools
import re
from pathlib import Path

from config.yaml_files import parse_yaml

ANNEX_A_FILE = Path(__file__).parent / "catalogues" / "annex-a.yaml"
ANNEX_A_ID = re.compile(r"^A\.[5-8]\.\d{1,2}$")


@functools.cache
def annex_a() -> dict[str, str]:
    """Control id -> short name, in the standard's order (A.5.1 ... A.8.34)."""
    raw = parse_yaml(ANNEX_A_FILE.read_text(encoding="utf-8"))
    return {str(key): str(name) for key, name in raw["controls"].items()}
