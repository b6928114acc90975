"""The forms of the policy register and their validation (pure and fast: Slack validates before its
3-second ack; ``flows.submit_version`` checks the same before it stores anything)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select

from config.awareness_settings import POLICY_ID
from config.organisation import Role
from storage.models.awareness import Policy, PolicyVersion
from workflows.awareness import audience
from workflows.awareness.forms import LINK, VERSION
from workflows.evidence.forms import FileRef, parse_files
from workflows.kernel.actors import Actor
from workflows.kernel.people import find_person, person_name
from workflows.kernel.ui import Form, FormField
from workflows.kernel.validation import check_text
from workflows.kernel.work import Context

NEW_FORM, REJECT_FORM = "policy.new", "policy.reject"
APPROVE = "policy.approve"
LIMITS = {"policy": 40, "title": 200, "version": 20, "link": 500, "sha256": 64, "audience": 190, "reason": 1000}
SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class VersionInput:
    """A valid new policy version as the form gives it."""

    policy: str
    title: str
    version: str
    link: str
    sha256: str | None
    file: FileRef | None
    owner: str
    approver: str
    next_review: date
    audience: str


def version_form() -> Form:
    return Form(
        NEW_FORM,
        "New policy version",
        (
            FormField(
                "policy", "Policy id", max_length=LIMITS["policy"], hint="e.g. POL-ACCESS; a new id adds a policy"
            ),
            FormField("title", "Title", max_length=LIMITS["title"]),
            FormField("version", "Version", max_length=LIMITS["version"], hint="e.g. 2.0"),
            FormField("link", "Link to the document", "url", max_length=LIMITS["link"]),
            FormField(
                "files",
                "The document, to record its SHA-256",
                "files",
                required=False,
                hint="One file; or give its SHA-256 below",
            ),
            FormField(
                "sha256",
                "SHA-256 of the document",
                required=False,
                max_length=LIMITS["sha256"],
                hint="sha256sum's output, so readers can check they have the approved text",
            ),
            FormField("owner", "Owner", "person", required=False, hint="You, when left empty"),
            FormField("approver", "Approver", "person", hint="Somebody other than you"),
            FormField("next_review", "Next review", "date"),
            FormField("audience_kind", "Who must acknowledge it", "select", options=audience.KINDS, initial="everyone"),
            FormField("audience", "Which role, department, people, group or channel", required=False, max_length=190),
        ),
        submit_label="Send for approval",
        fallback="Type `/isms policy new` again in a moment.",
    )


def read(
    ctx: Context, actor: Actor, values: dict[str, str], now: datetime
) -> tuple[VersionInput | None, dict[str, str]]:
    """The version the form describes, or ``{field: problem}``."""
    errors: dict[str, str] = {}
    for name in ("policy", "title", "version", "link", "sha256", "audience"):
        errors |= check_text(values, name, LIMITS[name], required=name in ("policy", "title", "version", "link"))
    policy = values.get("policy", "").strip().upper()
    version = values.get("version", "").strip()
    link = values.get("link", "").strip()
    sha = values.get("sha256", "").strip().lower() or None
    if "policy" not in errors and not re.match(POLICY_ID, policy):
        errors["policy"] = "Capital letters, digits and dashes, e.g. POL-ACCESS."
    if "version" not in errors and not VERSION.match(version):
        errors["version"] = "Letters, digits, dots and dashes only, e.g. 2.1."
    if "link" not in errors and not LINK.match(link):
        errors["link"] = "Give a web link starting with https:// (or http://), without spaces."
    if sha is not None and not SHA256.match(sha):
        errors["sha256"] = "64 hexadecimal characters (the output of sha256sum), or leave it empty."
    files = parse_files(values)
    if len(files) > 1:
        errors["files"] = "One document per version, please."
    elif files and sha is not None:
        errors["sha256"] = "Give the document or its SHA-256, not both: the bot computes it from the document."
    owner = find_person(ctx.org, values.get("owner", "")) if values.get("owner", "").strip() else None
    if values.get("owner", "").strip() and owner is None:
        errors["owner"] = "Pick somebody listed in the organisation file."
    approver = find_person(ctx.org, values.get("approver", ""))
    if approver is None:
        errors["approver"] = "Pick somebody listed in the organisation file."
    elif approver.id == actor.id:
        errors["approver"] = "You are writing this version, so somebody else must approve it."
    try:
        next_review = date.fromisoformat(values.get("next_review", "").strip())
        if next_review <= now.astimezone(ctx.org.zone).date():
            errors["next_review"] = "The next review must be a future date."
    except ValueError:
        errors["next_review"] = "Give the date as YYYY-MM-DD."
    wanted = audience.spec(values.get("audience_kind") or "everyone", values.get("audience", ""))
    with ctx.read() as session:
        if "audience" not in errors:
            try:
                audience.check(ctx, session, wanted)  # a group's or channel's members: read on approval
            except audience.AudienceError as error:
                errors["audience"] = str(error)
        owner_now = None if "policy" in errors else session.scalar(select(Policy.owner_id).where(Policy.id == policy))
        if owner_now is not None and owner_now != actor.id and not actor.has(Role.ISMS_MANAGER):
            errors["policy"] = (
                f"{policy} is owned by {person_name(ctx.org, owner_now)}: they or an ISMS manager write its "
                "new versions. A new id adds a policy of yours."
            )
        if not errors and session.scalar(
            select(PolicyVersion.id).where(PolicyVersion.policy_id == policy, PolicyVersion.version == version)
        ):
            errors["version"] = f"{policy} already has a version {version}; number this one differently."
    if errors or approver is None:
        return None, errors
    return (
        VersionInput(
            policy,
            " ".join(values.get("title", "").split()),
            version,
            link,
            sha,
            files[0] if files else None,
            owner.id if owner else actor.id,
            approver.id,
            next_review,
            wanted,
        ),
        {},
    )


def reject_form(version_id: int, label: str) -> Form:
    return Form(
        REJECT_FORM,
        "Reject policy version",
        (FormField("reason", f"Why do you reject {label}?", "multiline", max_length=LIMITS["reason"]),),
        submit_label="Reject",
        metadata=str(version_id),
    )


def validate_reason(values: dict[str, str]) -> dict[str, str]:
    return check_text(values, "reason", LIMITS["reason"], what="the reason")
