"""Configuration files: YAML + environment, validated by pydantic, with errors that point home.

Every part loads its file through :func:`load_config`. A problem is reported as
``tasks.yml:12: tasks[3].timeout: invalid duration "5 minutes"`` — the file, the line of the
offending value, the field path and what is wrong — and all problems are reported at once.

Precedence, highest first: explicit overrides (CLI flags), environment variables
(``<PREFIX>FIELD`` with ``__`` between nested names, e.g. ``CRONWATCH_SHIPPER_SINK__HOSTS``),
the YAML file, the model's defaults. Strings in the file may use ``${VAR}`` or
``${VAR:-default}``; ``$${`` is a literal ``${``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, ClassVar, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, SecretStr, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from cronwatch.errors import ConfigError

Loc = tuple[str | int, ...]
_ENV_REF = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-(.*?))?\}")


def check_time_zone(value: str) -> str:
    """``value`` when it names an IANA time zone, else a ValueError saying so."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f'unknown time zone "{value}" (use an IANA name such as Asia/Shanghai)') from None
    return value


TimeZoneName = Annotated[str, AfterValidator(check_time_zone)]
"""A config field holding an IANA time zone name (``Asia/Shanghai``), checked when loaded."""


class Model(BaseModel):
    """Base for config sections: unknown keys are errors, never silently ignored."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class YamlDocument:
    """A parsed YAML file: plain data plus the line of every value, for error messages."""

    def __init__(self, path: str, data: Any, lines: dict[Loc, int]) -> None:
        self.path = path
        self.data = data
        self.lines = lines

    def line_of(self, loc: Loc) -> int | None:
        """Line (1-based) of the value at ``loc``, or of its nearest ancestor that has one."""
        for end in range(len(loc), -1, -1):
            line = self.lines.get(tuple(loc[:end]))
            if line is not None:
                return line
        return None

    def where(self, loc: Loc) -> str:
        """``file:line`` (or just ``file``) for ``loc``."""
        line = self.line_of(loc)
        return f"{self.path}:{line}" if line else self.path


def format_loc(loc: Loc) -> str:
    """``("tasks", 3, "timeout")`` → ``tasks[3].timeout``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _plain(node: Any, loc: Loc, lines: dict[Loc, int]) -> Any:
    if isinstance(node, CommentedMap):
        out: dict[Any, Any] = {}
        for key, value in node.items():
            child = (*loc, key)
            try:
                lines[child] = node.lc.value(key)[0] + 1
            except (KeyError, TypeError, AttributeError):
                lines[child] = node.lc.line + 1
            out[key] = _plain(value, child, lines)
        return out
    if isinstance(node, CommentedSeq):
        items = []
        for i, value in enumerate(node):
            child = (*loc, i)
            try:
                lines[child] = node.lc.item(i)[0] + 1
            except (KeyError, TypeError, AttributeError):
                lines[child] = node.lc.line + 1
            items.append(_plain(value, child, lines))
        return items
    if isinstance(node, str):
        return str(node)
    return node


def parse_yaml_text(text: str, path: str = "<string>") -> YamlDocument:
    """Parse YAML text, keeping the line of every value; syntax errors name file:line."""
    yaml = YAML(typ="rt")
    try:
        root = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{line}: invalid YAML: {exc.problem or exc.context}") from None
    lines: dict[Loc, int] = {(): 1}
    data = _plain(root, (), lines)
    return YamlDocument(path, {} if data is None else data, lines)


def read_yaml(path: str | os.PathLike[str]) -> YamlDocument:
    """Read and parse a YAML file; a missing or unreadable file is a :class:`ConfigError`."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{p}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read: {exc}") from None
    return parse_yaml_text(text, str(p))


def interpolate_env(doc: YamlDocument, environ: Mapping[str, str] | None = None) -> None:
    """Replace ``${VAR}`` / ``${VAR:-default}`` in every string of ``doc`` in place."""
    env = os.environ if environ is None else environ
    problems: list[str] = []

    def sub(value: str, loc: Loc) -> str:
        def repl(m: re.Match[str]) -> str:
            if m.group(0) == "$${":
                return "${"
            name, default = m.group(1), m.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            problems.append(f"{doc.where(loc)}: {format_loc(loc)}: environment variable {name} is not set")
            return ""

        return _ENV_REF.sub(repl, value)

    def walk(node: Any, loc: Loc) -> Any:
        if isinstance(node, dict):
            return {k: walk(v, (*loc, k)) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, (*loc, i)) for i, v in enumerate(node)]
        if isinstance(node, str) and "$" in node:
            return sub(node, loc)
        return node

    doc.data = walk(doc.data, ())
    if problems:
        raise ConfigError(problems)


def _clean_message(err: Mapping[str, Any]) -> str:
    msg = str(err.get("msg", "invalid"))
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    if err.get("type") == "extra_forbidden":
        return "unknown field (check the spelling; unknown keys are not ignored)"
    if err.get("type") == "missing":
        return "required field is missing"
    return msg


def validation_problems(exc: ValidationError, doc: YamlDocument | None, path: str = "<config>") -> list[str]:
    """Turn a pydantic ``ValidationError`` into ``file:line: field: message`` lines."""
    out = []
    for err in exc.errors():
        loc: Loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        # pydantic puts union/tagged-union branch names into loc; drop those that are not data keys
        if doc is not None:
            clean: list[str | int] = []
            node: Any = doc.data
            for part in loc:
                if isinstance(node, dict) and part in node:
                    clean.append(part)
                    node = node[part]
                elif isinstance(node, list) and isinstance(part, int) and part < len(node):
                    clean.append(part)
                    node = node[part]
                elif isinstance(node, dict | list):
                    if isinstance(node, dict) and not isinstance(part, int) and part.isidentifier():
                        clean.append(part)  # a missing field: name it
                        node = None
                    continue
                else:
                    continue
            loc = tuple(clean)
            where = doc.where(loc)
        else:
            where = path
        out.append(f"{where}: {format_loc(loc)}: {_clean_message(err)}")
    return out


_FILE_DATA: ContextVar[dict[str, Any]] = ContextVar("cronwatch_file_data", default={})  # noqa: B039


class _FileSource(PydanticBaseSettingsSource):
    """The YAML file's data as the lowest-priority settings source."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_FILE_DATA.get())


class Settings(BaseSettings):
    """Base for a part's top-level configuration (file + environment + overrides).

    Subclasses set ``env_prefix`` in ``model_config`` (``CRONWATCH_SHIPPER_`` ...).
    """

    model_config = SettingsConfigDict(extra="forbid", env_nested_delimiter="__", populate_by_name=True)
    config_file: ClassVar[str | None] = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, file_secret_settings, _FileSource(settings_cls))


M = TypeVar("M", bound=BaseModel)


def _drop_none(d: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def validate_document(doc: YamlDocument, model: type[M], overrides: Mapping[str, Any] | None = None) -> M:
    """Validate a parsed document against ``model``; problems become one :class:`ConfigError`."""
    if not isinstance(doc.data, dict):
        raise ConfigError(f"{doc.path}:1: (top level): expected a mapping of settings")
    token = _FILE_DATA.set(doc.data)
    try:
        if issubclass(model, BaseSettings):
            return model(**_drop_none(overrides or {}))
        merged = {**doc.data, **_drop_none(overrides or {})}
        return model.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(validation_problems(exc, doc)) from None
    finally:
        _FILE_DATA.reset(token)


def load_config(
    path: str | os.PathLike[str] | None,
    model: type[M],
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> M:
    """Load ``path`` (or nothing: defaults + environment + overrides) into ``model``."""
    doc = read_yaml(path) if path is not None else YamlDocument("<defaults>", {}, {(): 1})
    interpolate_env(doc, environ)
    return validate_document(doc, model, overrides)


def read_secret(value: SecretStr | None, file: str | os.PathLike[str] | None, what: str) -> str | None:
    """A secret given inline (already ``${ENV}``-expanded) or in a file; the file wins.

    Errors name the setting and the file, never the secret.
    """
    if file:
        try:
            return Path(file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{what}: cannot read secret file {file}: {exc.strerror}") from None
    return value.get_secret_value() if value is not None else None
