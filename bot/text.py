"""Text at the edges: what people type is cleaned once on the way in, what people see is made safe.

In (every Slack request, console line and Jira webhook, before any workflow sees it):

- control characters other than newline and tab are removed (PostgreSQL refuses NUL in text, and
  the others only hide or garble what a person meant); CR LF and a lone CR become a newline;
- a lone surrogate (a broken ``\\ud800`` escape in JSON, which no database can store as UTF-8)
  becomes U+FFFD, so a form is stored whole or, where a field is checked, refused whole.

Out (Block Kit and the console): the bidirectional embedding, override and isolate characters
U+202A–U+202E and U+2066–U+2069 are shown as U+FFFD, so ``invoice\\u202egnp.exe`` cannot pass for
``invoiceexe.png``. The record keeps what the person wrote.
"""

from __future__ import annotations

import re
from typing import Any

REPLACEMENT = "\ufffd"
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_NEWLINES = re.compile("\r\n?")
_SURROGATES = re.compile("[\ud800-\udfff]")
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")


def clean(text: str) -> str:
    """Input text as stored: no control characters but newline and tab, no lone surrogates."""
    if text.isascii() and text.isprintable():
        return text
    text = _NEWLINES.sub("\n", text)
    text = _CONTROLS.sub("", text)
    return _SURROGATES.sub(REPLACEMENT, text)


def clean_tree(value: Any) -> Any:
    """``clean`` every string (keys included) in parsed JSON or form data."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {clean_tree(key): clean_tree(item) for key, item in value.items()}
    if isinstance(value, list):
        return [clean_tree(item) for item in value]
    return value


def shown(text: str) -> str:
    """Text as shown to people: bidirectional controls made visible instead of obeyed."""
    return _BIDI.sub(REPLACEMENT, text)


def shown_on_terminal(text: str) -> str:
    """``shown``, and no control character a terminal would obey (e.g. ESC from an older record)."""
    return _CONTROLS.sub("", _NEWLINES.sub("\n", shown(text)))
