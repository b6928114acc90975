"""Block Kit built as Python data from the chat-neutral UI (workflows/ui.py).

Every string from a workflow may contain user text. It is escaped for Slack (``&``, ``<``, ``>``
only; Slack decodes no other entities) and placed in ``mrkdwn`` objects with ``verbatim: true`` or
in ``plain_text``, so ``<!channel>``, ``<@U123>`` or ``<https://evil|bank>`` can neither ping nor
forge a link.
"""

from __future__ import annotations

import json
from typing import Any

from workflows.kernel.ui import Form, FormField, HomeView, Message

MAX_SECTION = 3000
MAX_FIELD = 2000  # Slack refuses a message whose section field text is longer
MAX_PLAIN = 150


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mrkdwn(text: str, limit: int = MAX_SECTION) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": escape(text)[:limit] or " ", "verbatim": True}


def plain(text: str, limit: int = MAX_PLAIN) -> dict[str, Any]:
    return {
        "type": "plain_text",
        "text": (text[: limit - 1] + "…") if len(text) > limit else (text or " "),
        "emoji": True,
    }


def message_blocks(message: Message) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [{"type": "section", "text": mrkdwn(message.text)}]
    if message.body:
        blocks.append({"type": "section", "text": mrkdwn(message.body)})
    for start in range(0, len(message.fields), 10):  # Slack allows 10 fields per section
        chunk = message.fields[start : start + 10]
        blocks.append(
            {"type": "section", "fields": [mrkdwn(f"*{label}*\n{value}", MAX_FIELD) for label, value in chunk]}
        )
    if message.buttons:
        elements = []
        for button in message.buttons[:25]:
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
    if message.footer:
        blocks.append({"type": "context", "elements": [mrkdwn(message.footer)]})
    return blocks


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
            element["initial_value"] = field.initial
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
    blocks: list[dict[str, Any]] = [{"type": "header", "text": plain(view.title)}]
    for section in view.sections:
        blocks.extend(message_blocks(section))
        blocks.append({"type": "divider"})
    return {"type": "home", "blocks": blocks[:100]}


def view_values(state: dict[str, Any]) -> dict[str, str]:
    """Flatten a view_submission's ``state.values`` to field name -> string value."""
    values: dict[str, str] = {}
    for block_id, actions in state.get("values", {}).items():
        for element in actions.values():
            kind = element.get("type")
            if kind == "static_select":
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
