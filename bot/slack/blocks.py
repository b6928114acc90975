"""Block Kit built as Python data from the chat-neutral UI (workflows/ui.py).

Every string from a workflow may contain user text. It is escaped for Slack (``&``, ``<``, ``>``
only; Slack decodes no other entities) and placed in ``mrkdwn`` objects with ``verbatim: true`` or
in ``plain_text``, so ``<!channel>``, ``<@U123>`` or ``<https://evil|bank>`` can neither ping nor
forge a link. Bidirectional override characters are neutralised (``bot.text.shown``) in every
string a person sees, so ``invoice\u202egnp.exe`` cannot display as ``invoiceexe.png``.
"""

from __future__ import annotations

import json
from typing import Any

from bot.text import shown
from workflows.kernel.people import plural
from workflows.kernel.ui import Form, FormField, HomeView, Message

MAX_SECTION = 3000
MAX_FIELD = 2000  # Slack refuses a message whose section field text is longer
MAX_PLAIN = 150


def escape(text: str) -> str:
    return shown(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mrkdwn(text: str, limit: int = MAX_SECTION) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": escape(text)[:limit] or " ", "verbatim": True}


def plain(text: str, limit: int = MAX_PLAIN) -> dict[str, Any]:
    text = shown(text)
    return {
        "type": "plain_text",
        "text": (text[: limit - 1] + "…") if len(text) > limit else (text or " "),
        "emoji": True,
    }


MAX_BLOCKS = 50  # Slack refuses a message with more blocks
MAX_VIEW_BLOCKS = 100  # ... and a modal or the App Home with more
SECTION_ROOM = MAX_SECTION - 100  # what one section holds of a long text, with room to spare
MAX_BUTTONS = 25  # elements of one actions block


def message_blocks(message: Message, max_blocks: int = MAX_BLOCKS) -> list[dict[str, Any]]:
    """A message as Block Kit within Slack's limits: every section at most 3,000 characters (a long
    body is split between lines into several sections), at most ``max_blocks`` blocks (what does not
    fit is named in a last section, never silently dropped)."""
    field_chunks = [message.fields[start : start + 10] for start in range(0, len(message.fields), 10)]
    fixed = 1 + len(field_chunks) + (1 if message.buttons else 0) + (1 if message.footer else 0)
    room = max(max_blocks - fixed, 1)
    blocks: list[dict[str, Any]] = [{"type": "section", "text": mrkdwn(_fit(message.text))}]
    if message.body:
        chunks = _sections(message.body)
        if len(chunks) > room:
            left = sum(chunk.count("\n") + 1 for chunk in chunks[room - 1 :])
            more = plural(left, "more line that does", "more lines that do")
            chunks = [*chunks[: room - 1], f"… and {more} not fit in one Slack message."]
        blocks.extend({"type": "section", "text": mrkdwn(chunk)} for chunk in chunks)
    for chunk in field_chunks[: max(max_blocks - len(blocks) - 2, 0)]:  # Slack allows 10 fields per section
        blocks.append(
            {"type": "section", "fields": [mrkdwn(f"*{label}*\n{value}", MAX_FIELD) for label, value in chunk]}
        )
    if message.buttons and len(blocks) < max_blocks:
        elements = []
        for button in message.buttons[:MAX_BUTTONS]:
            element: dict[str, Any] = {
                "type": "button",
                "action_id": button.action_id,
                "text": plain(button.label, 75),
                "value": button.value[:2000],
            }
            if button.style:
                element["style"] = button.style
            elements.append(element)
        blocks.append({"type": "actions", "elements": elements})
    if message.footer and len(blocks) < max_blocks:
        blocks.append({"type": "context", "elements": [mrkdwn(message.footer)]})
    return blocks[:max_blocks]


def _fit(text: str, room: int = SECTION_ROOM) -> str:
    """``text`` cut (with an ellipsis) so that escaped it fits ``room`` characters."""
    if len(escape(text)) <= room:
        return text
    low, high = 0, min(len(text), room - 1)  # the longest start that fits, ellipsis included
    while low < high:
        middle = (low + high + 1) // 2
        if len(escape(text[:middle])) <= room - 1:
            low = middle
        else:
            high = middle - 1
    return text[:low] + "…"


def _sections(text: str, room: int = SECTION_ROOM) -> list[str]:
    """``text`` in pieces that each fit one section once escaped, split between lines where possible."""
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for line in text.split("\n"):
        length = len(escape(line)) + 1
        while length > room:  # one line longer than a section: split it where it must be
            if current:
                chunks.append("\n".join(current))
                current, size = [], 0
            piece = _fit(line, room)[:-1]
            chunks.append(piece)
            line = line[len(piece) :]
            length = len(escape(line)) + 1
        if size + length > room and current:
            chunks.append("\n".join(current))
            current, size = [], 0
        current.append(line)
        size += length
    if current:
        chunks.append("\n".join(current))
    return chunks


def fallback_text(message: Message) -> str:
    """The notification text; escaped too, because Slack parses it like mrkdwn."""
    return escape(message.text)[:MAX_SECTION]


def _input(field: FormField) -> dict[str, Any]:
    action_id = field.name
    element: dict[str, Any]
    if field.kind in ("text", "multiline", "url"):
        element = {"type": "plain_text_input", "action_id": action_id, "multiline": field.kind == "multiline"}
        if field.max_length:
            element["max_length"] = field.max_length
        if field.initial:
            element["initial_value"] = shown(field.initial)
    elif field.kind == "number":
        element = {"type": "number_input", "action_id": action_id, "is_decimal_allowed": True}
        if field.initial:
            element["initial_value"] = field.initial
    elif field.kind == "select":
        options = [{"text": plain(label, 75), "value": value} for value, label in field.options]
        element = {"type": "static_select", "action_id": action_id, "options": options}
        chosen = [o for o in options if o["value"] == field.initial]
        if chosen:
            element["initial_option"] = chosen[0]
    elif field.kind == "datetime":
        element = {"type": "datetimepicker", "action_id": action_id}
        if field.initial:
            element["initial_date_time"] = int(field.initial)
    elif field.kind == "date":
        element = {"type": "datepicker", "action_id": action_id}
        if field.initial:
            element["initial_date"] = field.initial
    elif field.kind == "person":
        element = {"type": "users_select", "action_id": action_id}
    elif field.kind == "search":  # Slack asks for the options (block_suggestion) under this action id
        element = {"type": "external_select", "action_id": field.source, "min_query_length": 1}
    else:  # files
        element = {"type": "file_input", "action_id": action_id, "max_files": 5}
    block: dict[str, Any] = {
        "type": "input",
        "block_id": field.name,
        "label": plain(field.label, 2000),
        "element": element,
        "optional": not field.required,
    }
    if field.hint:
        block["hint"] = plain(field.hint, 2000)
    return block


def modal(form: Form) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": form.callback_id,
        "title": plain(form.title, 24),
        "submit": plain(form.submit_label, 24),
        "close": plain("Cancel", 24),
        "private_metadata": form.metadata[:3000],
        "blocks": [_input(field) for field in form.fields],
    }


def home_view(view: HomeView) -> dict[str, Any]:
    """The App Home within Slack's 100 blocks: sections in order while they fit, then a line saying
    how many did not (each process's section already shows counts and a "More" button)."""
    blocks: list[dict[str, Any]] = [{"type": "header", "text": plain(view.title)}]
    for index, section in enumerate(view.sections):
        room = MAX_VIEW_BLOCKS - len(blocks) - 2  # its divider and the line about what did not fit
        rendered = message_blocks(section, min(room, MAX_BLOCKS))
        if room <= 0 or len(rendered) > room:
            left = len(view.sections) - index
            more = plural(left, "more item does", "more items do")
            note = f"{more} not fit here: /isms evidence, /isms changes and /isms incidents list them."
            blocks.append({"type": "context", "elements": [mrkdwn(note)]})
            break
        blocks.extend(rendered)
        blocks.append({"type": "divider"})
    return {"type": "home", "blocks": blocks}


def suggestion_options(matches: list[tuple[str, str]]) -> dict[str, Any]:
    """The answer to a ``block_suggestion``: at most 100 options (Slack's limit), labels of 75 characters."""
    return {"options": [{"text": plain(label, 75), "value": value[:150]} for value, label in matches[:100]]}


def view_values(state: dict[str, Any]) -> dict[str, str]:
    """Flatten a view_submission's ``state.values`` to field name -> string value."""
    values: dict[str, str] = {}
    for block_id, actions in state.get("values", {}).items():
        for element in actions.values():
            kind = element.get("type")
            if kind in ("static_select", "external_select"):
                option = element.get("selected_option")
                values[block_id] = option["value"] if option else ""
            elif kind == "users_select":
                values[block_id] = element.get("selected_user") or ""
            elif kind == "datetimepicker":
                chosen = element.get("selected_date_time")
                values[block_id] = str(chosen) if chosen is not None else ""
            elif kind == "datepicker":
                values[block_id] = element.get("selected_date") or ""
            elif kind == "file_input":
                files = element.get("files", [])
                values[block_id] = json.dumps([f.get("id") for f in files])
                # Name and size as Slack reported them, so a form can refuse a too-large file before the ack.
                values[f"{block_id}:meta"] = json.dumps(
                    [{key: f.get(key) for key in ("id", "name", "size", "mimetype")} for f in files]
                )
            else:
                values[block_id] = element.get("value") or ""
    return values
