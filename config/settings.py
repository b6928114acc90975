"""Environment settings, named as in DESIGN.md.

Secrets are ``SecretStr`` so that printing the settings (or an exception carrying them) never shows
a token. Every outside URL is a setting so the bot can run against local doubles.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from config.errors import ConfigError, pydantic_problems

PACKAGED_EXAMPLE_ORG = Path(__file__).with_name("example-org.yaml")


def _env(name: str) -> AliasChoices:
    return AliasChoices(name)


class Settings(BaseSettings):
    """Everything the bot reads from its environment."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", populate_by_name=True, env_ignore_empty=True)

    database_url: str = Field("sqlite:///isms.db", validation_alias=_env("ISMS_DATABASE_URL"))
    config_path: Path = Field(PACKAGED_EXAMPLE_ORG, validation_alias=_env("ISMS_CONFIG"))
    catalogue_path: Path | None = Field(None, validation_alias=_env("ISMS_CATALOGUE"))
    templates_path: Path | None = Field(None, validation_alias=_env("ISMS_TEMPLATES"))

    slack_bot_token: SecretStr | None = Field(None, validation_alias=_env("SLACK_BOT_TOKEN"))
    slack_signing_secret: SecretStr | None = Field(None, validation_alias=_env("SLACK_SIGNING_SECRET"))
    slack_app_token: SecretStr | None = Field(None, validation_alias=_env("SLACK_APP_TOKEN"))
    slack_api_url: str = Field("https://slack.com/api/", validation_alias=_env("SLACK_API_URL"))

    jira_url: str | None = Field(None, validation_alias=_env("JIRA_URL"))
    jira_email: str | None = Field(None, validation_alias=_env("JIRA_EMAIL"))
    jira_api_token: SecretStr | None = Field(None, validation_alias=_env("JIRA_API_TOKEN"))
    jira_pat: SecretStr | None = Field(None, validation_alias=_env("JIRA_PAT"))
    jira_project: str | None = Field(None, validation_alias=_env("JIRA_PROJECT"))
    jira_webhook_secret: SecretStr | None = Field(None, validation_alias=_env("JIRA_WEBHOOK_SECRET"))

    msgraph_tenant_id: str | None = Field(None, validation_alias=_env("MSGRAPH_TENANT_ID"))
    msgraph_client_id: str | None = Field(None, validation_alias=_env("MSGRAPH_CLIENT_ID"))
    msgraph_client_secret: SecretStr | None = Field(None, validation_alias=_env("MSGRAPH_CLIENT_SECRET"))
    msgraph_client_certificate: Path | None = Field(
        None,
        validation_alias=_env("MSGRAPH_CLIENT_CERTIFICATE"),
        description="A PEM file with the app's private key and certificate (instead of MSGRAPH_CLIENT_SECRET).",
    )
    msgraph_authority: str = Field("https://login.microsoftonline.com", validation_alias=_env("MSGRAPH_AUTHORITY"))
    msgraph_url: str = Field("https://graph.microsoft.com/v1.0", validation_alias=_env("MSGRAPH_URL"))

    records_key: SecretStr | None = Field(None, validation_alias=_env("ISMS_RECORDS_KEY"))
    records_head_file: Path | None = Field(None, validation_alias=_env("ISMS_RECORDS_HEAD_FILE"))

    outbox_max_attempts: int = Field(8, ge=1, validation_alias=_env("ISMS_OUTBOX_MAX_ATTEMPTS"))
    outbox_backoff_base: float = Field(2.0, gt=0, validation_alias=_env("ISMS_OUTBOX_BACKOFF_BASE"))
    outbox_backoff_cap: float = Field(600.0, gt=0, validation_alias=_env("ISMS_OUTBOX_BACKOFF_CAP"))
    outbox_concurrency: int = Field(
        1,
        ge=1,
        le=64,
        validation_alias=_env("ISMS_OUTBOX_CONCURRENCY"),
        description="Conversations the outbox sends to at once (order kept within each).",
    )
    outbox_rates: dict[str, float] = Field(
        default_factory=dict,
        validation_alias=_env("ISMS_OUTBOX_RATES"),
        description='Client-side pace per service, sends a second, as JSON: {"chat": 50}. Empty: only Retry-After.',
    )

    http_threads: int = Field(
        8,  # acknowledging is CPU work under one GIL: more threads only queue for it (bench/RESULTS.md)
        ge=1,
        le=512,
        validation_alias=_env("ISMS_HTTP_THREADS"),
        description="Worker threads of the HTTP server (requests handled at once).",
    )
    http_connection_limit: int = Field(
        1000,
        ge=1,
        le=100_000,
        validation_alias=_env("ISMS_HTTP_CONNECTION_LIMIT"),
        description="Open connections the HTTP server accepts before it stops accepting more.",
    )

    intake_workers: int | None = Field(
        None,
        ge=1,
        le=64,
        validation_alias=_env("ISMS_INTAKE_WORKERS"),
        description="Slack requests whose workflows run at once after their acknowledgement (default 1: "
        "a person's requests then run in the order they were sent).",
    )
    intake_lease: float = Field(
        60.0,
        gt=0,
        le=3600,
        validation_alias=_env("ISMS_INTAKE_LEASE"),
        description="Seconds a worker holds a Slack request: the wait before a request whose process died "
        "while running it is run again.",
    )

    @field_validator("outbox_rates", mode="before")
    @classmethod
    def _rates_from_json(cls, value: object) -> object:
        """The environment gives JSON text (pydantic-settings decodes it; overrides in code may not)."""
        return json.loads(value) if isinstance(value, str) else value

    @property
    def slack_configured(self) -> bool:
        return self.slack_bot_token is not None

    @property
    def jira_configured(self) -> bool:
        return bool(self.jira_url and self.jira_project and (self.jira_pat or self.jira_api_token))


def load_settings(**overrides: Any) -> Settings:
    """Read the environment; a bad value becomes a ConfigError naming the variable."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        raise ConfigError("environment", pydantic_problems(error)) from None
