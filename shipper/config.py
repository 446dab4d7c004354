"""``shipper.yml``: inputs (files + parse settings + filters), the store, the state directory.

Loaded with :func:`cronwatch.config.load_config`; environment variables are
``CRONWATCH_SHIPPER_<FIELD>`` (``__`` between nested names), CLI flags override both.
Secrets (password, API key) come from the environment or files, never from logs.
"""

from __future__ import annotations

import re
from datetime import timedelta, tzinfo
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from cronwatch.config import Model, Settings, TimeZoneName, read_secret
from cronwatch.durations import Duration
from shipper.parse.config import ParseConfig

Level = Literal["trace", "debug", "info", "warn", "error", "fatal"]
_PREFIX = re.compile(r"^[a-z0-9][a-z0-9_.+-]*$")


def _check_prefix(value: str | None) -> str | None:
    if value is not None and not _PREFIX.match(value):
        raise ValueError(f'invalid index prefix "{value}": lowercase letters, digits and - _ . + only')
    return value


class InputConfig(ParseConfig):
    """One input: which files, how to parse them, what to keep and where it goes."""

    paths: list[str] = Field(min_length=1)
    exclude: list[str] = Field(default_factory=list)
    read_from: Literal["beginning", "end"] = "beginning"
    drop_levels: list[Level] = Field(default_factory=list)
    drop_regex: list[str] = Field(default_factory=list)
    sample: float = Field(default=1.0, gt=0.0, le=1.0)
    index_prefix: str | None = None
    error_index_prefix: str | None = None

    @field_validator("drop_regex")
    @classmethod
    def _regexes_compile(cls, value: list[str]) -> list[str]:
        for i, rx in enumerate(value):
            try:
                re.compile(rx)
            except re.error as exc:
                raise ValueError(f"drop_regex[{i}]: invalid regular expression at position {exc.pos}: {exc.msg}") from None
        return value

    @field_validator("index_prefix", "error_index_prefix")
    @classmethod
    def _prefix(cls, value: str | None) -> str | None:
        return _check_prefix(value)


class SinkConfig(Model):
    """The Elasticsearch/OpenSearch store."""

    hosts: list[str] = Field(default_factory=lambda: ["http://localhost:9200"], min_length=1)
    index_prefix: str = "cronwatch"
    username: str | None = None
    password: SecretStr | None = None
    password_file: str | None = None
    api_key: SecretStr | None = None
    api_key_file: str | None = None
    ca_file: str | None = None
    gzip: bool = True
    batch_events: int = Field(default=10000, ge=1)
    batch_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    flush_interval: Duration = timedelta(seconds=1)
    max_in_flight: int = Field(default=2, ge=1, le=64)
    timeout: Duration = timedelta(seconds=30)
    retry_initial: Duration = timedelta(milliseconds=500)
    retry_max: Duration = timedelta(seconds=30)
    # a document answered with a 5xx this many times in a row goes to the dead-letter file (429: retried on)
    item_max_attempts: int = Field(default=10, ge=1)
    install_template: bool = True
    dead_letter_file: str | None = None

    @field_validator("hosts")
    @classmethod
    def _urls(cls, value: list[str]) -> list[str]:
        for h in value:
            if not h.startswith(("http://", "https://")):
                raise ValueError(f'invalid host "{h}": use a URL such as http://localhost:9200')
        return value

    @field_validator("index_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        _check_prefix(value)
        return value

    def secrets(self) -> tuple[str | None, str | None]:
        """``(password, api_key)`` read from the values or files (never logged)."""
        return (read_secret(self.password, self.password_file, "sink.password"),
                read_secret(self.api_key, self.api_key_file, "sink.api_key"))


class ShipperConfig(Settings):
    """Everything ``cronwatch shipper run|backfill|check`` needs."""

    model_config = SettingsConfigDict(env_prefix="CRONWATCH_SHIPPER_", extra="forbid",
                                      env_nested_delimiter="__", populate_by_name=True)

    inputs: list[InputConfig] = Field(default_factory=list)
    sink: SinkConfig = Field(default_factory=SinkConfig)
    tz: TimeZoneName | None = None  # zone of the daily index's day (UTC when unset)
    state_dir: str = "var/shipper"
    scan_interval: Duration = timedelta(seconds=1)
    rotate_wait: Duration = timedelta(seconds=5)
    eof_line_timeout: Duration = timedelta(seconds=5)
    close_inactive: Duration = timedelta(minutes=5)  # idle files are closed (descriptors) and reopened on change
    checkpoint_interval: Duration = timedelta(seconds=1)
    shutdown_timeout: Duration = timedelta(seconds=10)
    listen: str | None = None
    max_task_labels: int = Field(default=500, ge=1)

    @model_validator(mode="after")
    def _positive(self) -> ShipperConfig:
        if self.scan_interval <= timedelta(0):
            raise ValueError("scan_interval must be positive")
        return self

    def zone(self) -> tzinfo | None:
        """The index day's time zone, or None for UTC."""
        return ZoneInfo(self.tz) if self.tz else None
