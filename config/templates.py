"""Wording of messages and reports, from Jinja2 templates an organisation may override.

Two environments, both sandboxed because organisations edit templates:
- chat text is rendered without autoescape: Slack needs only ``&``, ``<`` and ``>`` escaped, which the
  Slack renderer does for every string, so HTML escaping here would show ``&#39;`` to people;
- HTML reports and mail are rendered with autoescape.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, FileSystemLoader, StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from config.errors import ConfigError

PACKAGED = Path(__file__).with_name("templates")


class Templates:
    """Renders ``name`` from the organisation's folder if it has it, else from the packaged one."""

    def __init__(self, override_dir: Path | None = None):
        folders = [str(override_dir)] if override_dir else []
        loader = ChoiceLoader([FileSystemLoader([*folders, str(PACKAGED)])])
        self._text = SandboxedEnvironment(
            loader=loader,
            autoescape=False,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        self._html = SandboxedEnvironment(
            loader=loader, autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True
        )
        self._override_dir = override_dir

    def text(self, name: str, **values: Any) -> str:
        """Chat wording: plain text, escaped later by the chat surface."""
        return self._text.get_template(name).render(**values).strip()

    def html(self, name: str, **values: Any) -> str:
        return self._html.get_template(name).render(**values)

    def check(self) -> None:
        """Compile every template so a broken override stops start-up, naming the file."""
        env = self._text
        for name in env.list_templates(extensions=("j2", "html")):
            try:
                env.get_template(name)
            except TemplateError as error:
                source = (self._override_dir or PACKAGED) / name
                raise ConfigError(source, [(f"line {getattr(error, 'lineno', '?')}", str(error))]) from None
