"""The one error type for bad configuration.

Start-up and ``isms-bot config check`` must name the file, the key and what is wrong, so every
loader reports problems through this type instead of letting a pydantic or YAML error escape.
"""

from __future__ import annotations

from pathlib import Path


class ConfigError(Exception):
    """A configuration file (or environment variable) that cannot be used.

    ``problems`` holds one ``(key, message)`` pair per problem so a person can fix them all at once.
    """

    def __init__(self, source: str | Path, problems: list[tuple[str, str]]):
        self.source = str(source)
        self.problems = problems
        super().__init__(self.describe())

    def describe(self) -> str:
        lines = [f"{self.source}: {key or '(top level)'}: {message}" for key, message in self.problems]
        return "\n".join(lines)


class StartupError(Exception):
    """The bot cannot start for a reason a person can act on: one setting and what is wrong with it."""

    def __init__(self, setting: str, problem: str):
        self.setting = setting
        self.problem = problem
        super().__init__(self.describe())

    def describe(self) -> str:
        return f"{self.setting}: {self.problem}"


def pydantic_problems(error: object) -> list[tuple[str, str]]:
    """Turn a pydantic ``ValidationError`` into dotted keys (``people.3.roles``) and messages."""
    problems = []
    for item in error.errors():  # type: ignore[attr-defined]
        key = ".".join(str(part) for part in item["loc"])
        problems.append((key, item["msg"]))
    return problems
