"""The organisation file's ``registers:`` section: the risk scale and appetite, review rhythms, and
where the register files live when the organisation keeps them as files.

The scale is the organisation's own (ISO/IEC 27001 asks for risk criteria, not for a particular
scale): likelihood and impact each run from 1 to their number of levels, and a risk's level is their
product. A residual level above ``appetite`` needs the owner's acceptance or a treatment plan.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

RegisterKind = Literal["risk", "control", "asset", "supplier", "requirement", "party"]
Criticality = Literal["critical", "high", "medium", "low"]


class RegisterSettings(BaseModel):
    """Every key is optional; the defaults are a 5 x 5 scale with appetite 8."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    likelihood_levels: int = Field(5, ge=2, le=10, description="Likelihood runs from 1 to this.")
    impact_levels: int = Field(5, ge=2, le=10, description="Impact runs from 1 to this.")
    appetite: int = Field(
        8, ge=1, description="The highest level (likelihood x impact) the organisation carries without acceptance."
    )
    acceptance_max_days: int = Field(365, ge=1, le=3 * 365, description="Longest an acceptance may run.")
    review_lead_days: int = Field(
        30, ge=0, le=365, description="How long before an item's review date its owner is asked (evidence request)."
    )
    supplier_review_days: dict[Criticality, int] = Field(
        default_factory=lambda: {"critical": 365, "high": 365, "medium": 730, "low": 1095},  # type: ignore[arg-type]
        description="Days from a supplier's last review to its next, by criticality.",
    )
    contract_notice_days: int = Field(90, ge=1, le=365, description="Tell the owner this long before a contract ends.")
    files: dict[RegisterKind, Path] = Field(
        default_factory=dict, description="Register files (CSV or XLSX) checked by `config check`, by kind."
    )

    @model_validator(mode="after")
    def _appetite_on_the_scale(self) -> RegisterSettings:
        top = self.likelihood_levels * self.impact_levels
        if self.appetite >= top:
            raise ValueError(f"appetite must be below the highest level {top}, or no risk ever needs acceptance")
        return self

    @property
    def top_level(self) -> int:
        return self.likelihood_levels * self.impact_levels
