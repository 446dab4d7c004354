"""docker-compose.yml, Dockerfile and deploy/: valid against the Compose specification, complete, safe.

There is no Docker engine here: the file is validated against the Compose specification's JSON
schema (shipped by check-jsonschema, Apache-2.0, from compose-spec/compose-spec), and every path,
volume, secret and variable it uses is checked to exist.
"""

from __future__ import annotations

import copy
import importlib.resources
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from product_support import REPO, RULE_FILES, load_yaml

from cronwatch.config import load_config
from cronwatch.testing.services import which
from shipper.config import ShipperConfig

COMPOSE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
REQUIRED = {"elasticsearch", "kibana", "kibana-init", "prometheus", "grafana", "mailpit", "scheduler", "shipper",
            "alerter"}
ONE_SHOTS = {"certs", "es-setup", "rules-init", "kibana-init"}


def compose_schema() -> dict[str, Any]:
    """The Compose specification JSON schema (vendored by check-jsonschema)."""
    vendor = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    schema: dict[str, Any] = json.loads(vendor.joinpath("compose-spec.json").read_text(encoding="utf-8"))
    return schema


def schema_errors(doc: Any) -> list[str]:
    """Every schema violation of ``doc``, as ``path: message``."""
    schema = compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """The parsed docker-compose.yml."""
    doc: dict[str, Any] = load_yaml(COMPOSE)
    return doc


def env_example() -> dict[str, str]:
    """The variables .env.example sets."""
    out = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            out[name.strip()] = value
    return out


def test_compose_file_is_valid_against_the_compose_specification(compose: dict[str, Any]) -> None:
    """docker-compose.yml has no schema violation."""
    assert schema_errors(compose) == []


@pytest.mark.parametrize("mutation", ["unknown key", "bad service name", "bad depends_on condition"])
def test_the_schema_catches_mistakes(compose: dict[str, Any], mutation: str) -> None:
    """The schema check is not vacuous: typical mistakes in a copy of the file are reported."""
    doc = copy.deepcopy(compose)
    if mutation == "unknown key":
        doc["services"]["shipper"]["restartt"] = "always"
    elif mutation == "bad service name":
        doc["services"]["grafana dashboards!"] = doc["services"].pop("grafana")
    else:
        doc["services"]["kibana"]["depends_on"]["es-setup"]["condition"] = "service_done"
    assert schema_errors(doc)


def test_the_stack_has_every_service(compose: dict[str, Any]) -> None:
    """Elasticsearch, Kibana (+ import), Prometheus, Grafana, Mailpit and the three cronwatch services."""
    assert set(compose["services"]) >= REQUIRED


def test_cronwatch_services_are_built_from_the_repository(compose: dict[str, Any]) -> None:
    """scheduler, shipper and alerter build ./Dockerfile and run its `cronwatch` entry point."""
    for name in ("scheduler", "shipper", "alerter"):
        svc = compose["services"][name]
        assert svc["build"]["context"] == "." and (REPO / svc["build"]["dockerfile"]).is_file()
    assert compose["services"]["scheduler"]["command"][:2] == ["scheduler", "run"]
    assert compose["services"]["shipper"]["command"][:2] == ["shipper", "run"]
    assert "cronwatch alerter run" in compose["services"]["alerter"]["command"][0]


def test_every_mounted_path_exists(compose: dict[str, Any]) -> None:
    """Each bind mount (./...) points at a file or directory in the repository."""
    mounts = 0
    for name, svc in compose["services"].items():
        for vol in svc.get("volumes", []):
            source = vol.split(":")[0] if isinstance(vol, str) else vol.get("source", "")
            if source.startswith("."):
                mounts += 1
                assert (REPO / source).exists(), f"{name}: {source} does not exist"
    assert mounts >= 10


def test_named_volumes_are_declared_and_used(compose: dict[str, Any]) -> None:
    """Every named volume a service uses is declared at the top level, and none is unused."""
    used = set()
    for svc in compose["services"].values():
        for vol in svc.get("volumes", []):
            source = vol.split(":")[0]
            if not source.startswith((".", "/")):
                used.add(source)
    assert used == set(compose["volumes"])


def test_ports_are_bound_to_loopback(compose: dict[str, Any]) -> None:
    """No published port listens on every interface."""
    for name, svc in compose["services"].items():
        for port in svc.get("ports", []):
            assert isinstance(port, str) and port.startswith("127.0.0.1:"), f"{name}: {port}"


def test_long_running_services_have_healthchecks(compose: dict[str, Any]) -> None:
    """Every service but the one-shots has a healthcheck; one-shots never restart."""
    for name, svc in compose["services"].items():
        if name in ONE_SHOTS:
            assert svc["restart"] == "no", name
        else:
            assert svc.get("healthcheck", {}).get("test"), name
            assert svc.get("restart", "unless-stopped") == "unless-stopped" or "<<" in svc


def test_one_shots_gate_what_needs_them(compose: dict[str, Any]) -> None:
    """Elasticsearch waits for its certificates, Kibana and the shipper for es-setup, Prometheus for its rules."""
    deps = {n: s.get("depends_on", {}) for n, s in compose["services"].items()}
    assert deps["elasticsearch"]["certs"]["condition"] == "service_completed_successfully"
    assert deps["es-setup"]["elasticsearch"]["condition"] == "service_healthy"
    assert deps["kibana"]["es-setup"]["condition"] == "service_completed_successfully"
    assert deps["shipper"]["es-setup"]["condition"] == "service_completed_successfully"
    assert deps["prometheus"]["rules-init"]["condition"] == "service_completed_successfully"
    assert deps["kibana-init"]["kibana"]["condition"] == "service_healthy"


def test_images_are_pinned(compose: dict[str, Any]) -> None:
    """Every third-party image names a version, never `latest`."""
    for name, svc in compose["services"].items():
        image = svc.get("image", "")
        if image and not image.startswith("cronwatch:"):
            tag = image.rsplit(":", 1)[-1] if ":" in image.split("/")[-1] else ""
            assert tag and tag != "latest", f"{name}: {image}"


def test_secrets_come_from_env_file_and_are_declared(compose: dict[str, Any]) -> None:
    """Each secret a service uses is declared, sourced from a variable .env.example sets."""
    declared = compose["secrets"]
    env = env_example()
    for name, svc in compose["services"].items():
        for secret in svc.get("secrets", []):
            assert secret in declared, f"{name}: undeclared secret {secret}"
    for secret, spec in declared.items():
        assert spec["environment"] in env, f"{secret}: {spec['environment']} missing in .env.example"
        assert env[spec["environment"]].startswith("CHANGE_ME") or "CHANGE_ME" in env[spec["environment"]]


def test_no_secret_is_written_in_the_compose_file(compose: dict[str, Any]) -> None:
    """Password/token/key settings are interpolated from .env or point to /run/secrets files."""
    sensitive = re.compile(r"PASSWORD|TOKEN|SECRET|ENCRYPTIONKEY|_KEY\b")
    for name, svc in compose["services"].items():
        env = svc.get("environment", {})
        assert isinstance(env, dict), name
        for key, value in env.items():
            if sensitive.search(key):
                value = str(value)
                assert value.startswith(("${", "/run/secrets/")), f"{name}: {key}"


def test_every_interpolated_variable_is_documented(compose: dict[str, Any]) -> None:
    """Every ${VAR} the compose file uses is set in .env.example."""
    text = COMPOSE.read_text()
    names = set(re.findall(r"(?<!\$)\$\{([A-Z_][A-Z0-9_]*)", text))
    assert names and names <= set(env_example())


def test_env_file_is_never_committed_or_baked_in() -> None:
    """.env is ignored by git and by the Docker build context."""
    assert ".env" in (REPO / ".gitignore").read_text().split()
    assert ".env" in (REPO / ".dockerignore").read_text().splitlines()


def test_dockerfile_runs_as_non_root_and_copies_what_exists(compose: dict[str, Any]) -> None:
    """The image builds from pinned bases, copies only existing paths, runs as a user, exposes the ports."""
    text = (REPO / "Dockerfile").read_text()
    assert re.search(r"^USER cronwatch$", text, re.MULTILINE)
    for base in re.findall(r"^FROM (\S+)", text, re.MULTILINE):
        assert ":" in base, base
    ignored = {line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    for src in re.findall(r"^COPY (?!--from)(?:--\S+ )*(.+) \S+$", text, re.MULTILINE):
        for path in src.split():
            assert (REPO / path).exists(), path
            assert path.split("/")[0] not in ignored, f"{path} is excluded by .dockerignore"
    build_stage = text.split("\nFROM ")[1]  # the wheel is built with the shipper's C extension
    assert "setup.py" in build_stage and re.search(r"apt-get install .*\bgcc\b.*\bzlib1g-dev\b", build_stage)
    assert "shipper/_speedups" in build_stage and "alerter/_speedups" in build_stage  # the build checks them
    assert "**/*.so" in ignored
    exposed = set(re.findall(r"^EXPOSE (.+)$", text, re.MULTILINE)[0].split())
    for name in ("scheduler", "shipper", "alerter"):
        for port in compose["services"][name]["ports"]:
            assert port.rsplit(":", 1)[-1] in exposed


def test_scripts_parse() -> None:
    """The shell scripts compose runs have valid syntax (sh for busybox/curl images, bash for Elastic's)."""
    for script, shell in [("deploy/prometheus/render-rules.sh", "sh"), ("dashboards/import.sh", "sh"),
                          ("deploy/elasticsearch/certs.sh", "bash"), ("deploy/elasticsearch/setup.sh", "bash")]:
        result = subprocess.run([shell, "-n", str(REPO / script)], capture_output=True, text=True)
        assert result.returncode == 0, f"{script}: {result.stderr}"


def test_prometheus_config_passes_promtool(tmp_path: Path) -> None:
    """deploy/prometheus/prometheus.yml passes `promtool check config` with the rules it loads."""
    (tmp_path / "rules").mkdir()
    for rule in RULE_FILES:
        (tmp_path / "rules" / rule.name).write_text(rule.read_text())
    (tmp_path / "token").write_text("t0ken\n")
    text = (REPO / "deploy/prometheus/prometheus.yml").read_text()
    text = text.replace("/etc/prometheus/rules/", f"{tmp_path}/rules/").replace(
        "/run/secrets/alerter_api_token", str(tmp_path / "token")).replace("${CRONWATCH_ENV}", "production")
    (tmp_path / "prometheus.yml").write_text(text)
    result = subprocess.run([which("promtool", "prometheus"), "check", "config", str(tmp_path / "prometheus.yml")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 41 rules found" in result.stdout + result.stderr or "SUCCESS" in result.stdout


def test_prometheus_scrape_jobs_match_the_rules() -> None:
    """The scrape job names are the ones the pipeline rules match on."""
    jobs = {j["job_name"] for j in load_yaml(REPO / "deploy/prometheus/prometheus.yml")["scrape_configs"]}
    rules_text = "".join(p.read_text() for p in RULE_FILES)
    for job in set(re.findall(r'job="(cronwatch-[a-z]+)"', rules_text)):
        assert job in jobs


def test_grafana_provisioning_points_at_the_mounted_dashboards(compose: dict[str, Any]) -> None:
    """The dashboards provider reads the directory compose mounts dashboards/grafana into."""
    provider = load_yaml(REPO / "deploy/grafana/provisioning/dashboards/cronwatch.yml")["providers"][0]
    mounts = compose["services"]["grafana"]["volumes"]
    assert f"./dashboards/grafana:{provider['options']['path']}:ro" in mounts
    ds = load_yaml(REPO / "deploy/grafana/provisioning/datasources/cronwatch.yml")["datasources"][0]
    assert ds["type"] == "prometheus" and ds["uid"] == "cronwatch-prometheus"
    assert ds["url"] == "${PROMETHEUS_URL}" and "PROMETHEUS_URL" in compose["services"]["grafana"]["environment"]
    home = compose["services"]["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (REPO / "dashboards/grafana" / Path(home).name).is_file()


def test_deploy_shipper_config_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    """deploy/cronwatch/shipper.yml is valid for the shipper (TLS CA, password from a file, prefix)."""
    monkeypatch.delenv("CRONWATCH_INDEX_PREFIX", raising=False)
    cfg = load_config(REPO / "deploy/cronwatch/shipper.yml", ShipperConfig)
    assert cfg.sink.hosts == ["https://elasticsearch:9200"]
    assert cfg.sink.password is None and cfg.sink.password_file == "/run/secrets/shipper_es_password"
    assert cfg.sink.ca_file and cfg.sink.index_prefix == "cronwatch"
    assert cfg.listen == "0.0.0.0:9465"


def test_scheduler_tasks_in_the_image_validate() -> None:
    """The tasks.yml the compose scheduler runs passes `cronwatch scheduler validate`."""
    from scheduler.model import load_scheduler_config

    cfg = load_scheduler_config(str(REPO / "examples/tasks.yml"))
    assert cfg.tasks


def test_scheduler_reads_its_token_file_from_the_compose_environment(compose: dict[str, Any],
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The scheduler's environment in compose makes it require the bearer token from its secret file."""
    from scheduler.model import load_scheduler_config

    for key, value in compose["services"]["scheduler"]["environment"].items():
        monkeypatch.setenv(key, str(value))
    cfg = load_scheduler_config(str(REPO / "examples/tasks.yml"))
    assert cfg.api_token_file == "/run/secrets/scheduler_api_token"
    assert "scheduler_api_token" in compose["services"]["scheduler"]["secrets"]


def test_alerter_config_is_valid_with_the_compose_environment(compose: dict[str, Any], tmp_path: Path) -> None:
    """examples/alerter.yml passes check-config with exactly the variables compose gives the alerter."""
    import os
    import sys

    env = dict(os.environ)
    for key, value in compose["services"]["alerter"]["environment"].items():
        value = str(value)
        if value.startswith("${"):  # compose interpolates these from .env: use .env.example's value
            name = value[2:].split(":", 1)[0].rstrip("}")
            value = env_example()[name]
        if value.startswith("/run/secrets/"):
            secret = tmp_path / Path(value).name
            secret.write_text("https://oapi.dingtalk.com/robot/send?access_token=x\n")
            value = str(secret)
        env[key] = value.replace("/var/lib/cronwatch", str(tmp_path))
    (tmp_path / "silences.yml").write_text((REPO / "examples/silences.yml").read_text())
    result = subprocess.run([sys.executable, "-c", "from cronwatch.cli import main; main()", "alerter",
                             "check-config", str(REPO / "examples/alerter.yml")], capture_output=True, text=True,
                            env=env, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
