"""The index template for cronwatch's daily indices: the DESIGN.md fields, importable without side effects.

``extra`` (every decoded field outside the contract) is one ``flattened`` field on Elasticsearch
and ``flat_object`` on OpenSearch ≥ 2.7 (a disabled object before that), so odd fields never
cause mapping conflicts. Other unknown strings become ``keyword``.
"""

from __future__ import annotations

from typing import Any

KEYWORD: dict[str, Any] = {"type": "keyword", "ignore_above": 1024}
TEXT: dict[str, Any] = {"type": "text"}
LONG: dict[str, Any] = {"type": "long"}
DATE: dict[str, Any] = {"type": "date"}


def _obj(**props: dict[str, Any]) -> dict[str, Any]:
    return {"properties": props}


def extra_mapping(distribution: str, version: tuple[int, ...] = (3,)) -> dict[str, Any]:
    """Mapping of the ``extra`` field for ``distribution`` (``elasticsearch`` or ``opensearch``) and version."""
    if distribution == "opensearch":
        if version >= (2, 7):
            return {"type": "flat_object"}
        return {"type": "object", "enabled": False}
    return {"type": "flattened"}


def mappings(distribution: str = "elasticsearch", version: tuple[int, ...] = (8,)) -> dict[str, Any]:
    """The ``mappings`` section: contract fields with fixed types, ``extra`` flattened, strings as keywords."""
    return {
        "dynamic": True,
        "dynamic_templates": [
            {"labels_as_keywords": {"path_match": "labels.*", "mapping": dict(KEYWORD)}},
            {"strings_as_keywords": {"match_mapping_type": "string", "mapping": dict(KEYWORD)}},
        ],
        "properties": {
            "@timestamp": DATE,
            "message": TEXT,
            "tags": KEYWORD,
            "labels": {"type": "object", "dynamic": True},
            "extra": extra_mapping(distribution, version),
            "log": _obj(level=KEYWORD, logger=KEYWORD, offset=LONG, file=_obj(path=KEYWORD)),
            "event": _obj(action=KEYWORD, outcome=KEYWORD, duration=LONG, dataset=KEYWORD),
            "trace": _obj(id=KEYWORD),
            "span": _obj(id=KEYWORD),
            "task": _obj(name=KEYWORD, run_id=KEYWORD, attempt=LONG, schedule=KEYWORD, scheduled_at=DATE),
            "error": _obj(type=KEYWORD, message=TEXT, stack_trace=TEXT),
            "host": _obj(name=KEYWORD),
            "service": _obj(name=KEYWORD),
        },
    }


def template_name(prefix: str) -> str:
    """Name of the index template for indices ``<prefix>-*``."""
    return f"{prefix}-template"


def index_template(prefix: str = "cronwatch", distribution: str = "elasticsearch",
                   version: tuple[int, ...] = (8,), *, shards: int = 1, replicas: int | None = None) -> dict[str, Any]:
    """The composable index template body (``PUT _index_template/<name>``) for ``<prefix>-*`` indices."""
    settings: dict[str, Any] = {"number_of_shards": shards}
    if replicas is not None:
        settings["number_of_replicas"] = replicas
    return {
        "index_patterns": [f"{prefix}-*"],
        "priority": 200,
        "template": {"settings": settings, "mappings": mappings(distribution, version)},
        "_meta": {"managed_by": "cronwatch"},
    }
