"""The compose deployment (infra/compose) runs the real parts wired the way the code reads them.

Structure is checked here in Python, always: every part present, every Basira service given each
variable the supervisor gives it and only variables its settings read, healthchecks and healthy
dependencies, pinned images, OPA fed the policy service's signed bundle with the key that verifies
it, Keycloak importing our realm and issuing what the services expect. `docker compose config` also
validates the file when the compose plugin is installed (no Docker engine is needed for that).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic_settings import BaseSettings

from basira.policy.api import BUNDLE_PATH
from basira.policy.bundle import ALGORITHM, KEY_ID, public_key_path
from basira.policy.config import PolicySettings
from basira.policy.engine import BUNDLE_NAME
from basira.runtime.supervisor import GRPC_SERVICES, Platform, PlatformConfig, realm_client_secret

from .test_k8s_manifests import DOCKERFILE, REPO, settings_class

COMPOSE_DIR = REPO / "infra" / "compose"
COMPOSE_FILE = COMPOSE_DIR / "compose.yaml"
REALM_FILE = REPO / "infra" / "keycloak" / "basira-realm.json"
NATS_SERVERS = ("nats-1", "nats-2", "nats-3")
PARTS = {"postgres", *NATS_SERVERS, "keycloak", "opa", "policy", *GRPC_SERVICES, "console"}
BASIRA_RUN = {*GRPC_SERVICES, "policy", "console"}  # what runs `python -m basira.<name>` from our image

Doc = dict[str, Any]
VARIABLE = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}")


def interpolate(value: str) -> str:
    """Compose's `${VAR:-default}` / `${VAR}` with nothing set in the environment."""
    return VARIABLE.sub(lambda m: m.group(2) or "", value)


@pytest.fixture(scope="module")
def services() -> dict[str, Doc]:
    doc = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(doc, dict) and isinstance(doc.get("services"), dict)
    return dict(doc["services"])


def env(service: Doc) -> dict[str, str]:
    return {k: interpolate(str(v)) for k, v in (service.get("environment") or {}).items()}


def command(service: Doc) -> list[str]:
    return [interpolate(str(part)) for part in service.get("command") or []]


def module_run(service: Doc) -> str:
    """`audit` for `python -m basira.audit`, else ''."""
    argv = command(service)
    return argv[2].removeprefix("basira.") if argv[:2] == ["python", "-m"] else ""


def mounts(service: Doc) -> dict[str, str]:
    """Container path -> source (a named volume, or a host path resolved against the compose dir)."""
    out = {}
    for volume in service.get("volumes") or []:
        source, target = str(volume).split(":")[:2]
        out[target] = str((COMPOSE_DIR / source).resolve()) if source.startswith(".") else source
    return out


def host_of(url: str) -> str:
    return urlsplit(url if "//" in url else f"//{url}").hostname or ""


def flag(service: Doc, name: str) -> str:
    """The value of `--name=value` (or `--name value`) in the service's command."""
    argv = command(service)
    for i, part in enumerate(argv):
        if part.startswith(f"{name}="):
            return part.split("=", 1)[1]
        if part == name and i + 1 < len(argv):
            return argv[i + 1]
    raise AssertionError(f"no {name} in {argv}")


def env_names(cls: type[BaseSettings]) -> set[str]:
    """The environment variables a settings class reads: its prefix + field name, or the field's alias."""
    prefix = str(cls.model_config.get("env_prefix", ""))
    return {(f.validation_alias if isinstance(f.validation_alias, str) else prefix + name).upper()
            for name, f in cls.model_fields.items()}


def settings_of(name: str) -> type[BaseSettings]:
    return PolicySettings if name == "policy" else settings_class(name)


# -- parts and images -----------------------------------------------------------------------------


def test_every_part_is_there(services: dict[str, Doc]) -> None:
    assert set(services) >= PARTS, f"missing: {sorted(PARTS - set(services))}"
    for name in BASIRA_RUN:
        service = services[name]
        assert module_run(service) == name, f"{name} runs {command(service)}"
        assert service["image"].split(":")[0] == "basira"
        build = service["build"]
        assert (COMPOSE_DIR / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE


def test_images_are_pinned_never_latest(services: dict[str, Doc]) -> None:
    for name, service in services.items():
        image = interpolate(service["image"])
        repository, _, tag = image.rpartition(":")
        assert repository and "/" not in tag, f"{name}: {image!r} has no tag"
        assert tag != "latest" and re.match(r"\d+\.\d+", tag), f"{name}: {image!r} is not a pinned version"


def test_the_pinned_versions_are_the_ones_asked_for(services: dict[str, Doc]) -> None:
    assert services["keycloak"]["image"].startswith("quay.io/keycloak/keycloak:26.")
    assert services["opa"]["image"].startswith("openpolicyagent/opa:1.20.2")
    assert services["postgres"]["image"].startswith("pgvector/pgvector:")


# -- health ---------------------------------------------------------------------------------------


def test_every_part_has_a_healthcheck_and_waits_for_healthy_dependencies(services: dict[str, Doc]) -> None:
    for name, service in services.items():
        check = service.get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), f"{name} has no healthcheck"
        for dependency, condition in (service.get("depends_on") or {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            assert condition == {"condition": "service_healthy"}, f"{name} -> {dependency}: {condition}"


@pytest.mark.parametrize("name", GRPC_SERVICES)
def test_grpc_services_wait_for_every_external_part(services: dict[str, Doc], name: str) -> None:
    assert {"postgres", *NATS_SERVERS, "keycloak", "opa"} <= set(services[name]["depends_on"])


@pytest.mark.parametrize("name", GRPC_SERVICES)
def test_grpc_health_is_checked_on_the_grpc_port(services: dict[str, Doc], name: str) -> None:
    service = services[name]
    port = env(service)["BASIRA_GRPC_PORT"]
    assert f"127.0.0.1:{port}'" in " ".join(service["healthcheck"]["test"]), name
    published = [str(p) for p in service.get("ports", [])]
    assert any(p.endswith(f":{port}") for p in published), f"{name} does not publish {port}"


# -- environment ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", GRPC_SERVICES)
def test_grpc_services_get_every_variable_the_supervisor_gives(services: dict[str, Doc], name: str) -> None:
    given = env(services[name])
    wanted = Platform(PlatformConfig()).service_env(name, 50051)
    missing = sorted(set(wanted) - set(given))
    assert not missing, f"{name} lacks {missing}"
    assert all(given[k] for k in wanted), f"{name}: an empty variable among {sorted(wanted)}"
    assert given["BASIRA_HOST"] == "0.0.0.0"


def test_the_console_gets_every_variable_the_supervisor_gives(services: dict[str, Doc]) -> None:
    platform = Platform(PlatformConfig())
    platform.endpoints = {s: f"{s}:50051" for s in GRPC_SERVICES}
    given = env(services["console"])
    wanted = platform.console_env(8080)
    assert not set(wanted) - set(given), sorted(set(wanted) - set(given))
    for key, value in given.items():
        if key.endswith("_TARGET"):
            assert host_of(value) in GRPC_SERVICES and value.endswith(":50051"), f"{key}={value}"


@pytest.mark.parametrize("name", sorted(BASIRA_RUN))
def test_every_basira_variable_names_a_setting_and_validates(services: dict[str, Doc], name: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings ignore unknown variables, so a misspelt one would be silently dropped."""
    cls = settings_of(name)
    given = env(services[name])
    unknown = sorted(k for k in given if k.startswith("BASIRA_") and k not in env_names(cls))
    assert not unknown, f"{name}: no such setting: {unknown}"
    for key in [k for k in os.environ if k.startswith(("BASIRA_", "PG"))]:
        monkeypatch.delenv(key)
    for key, value in given.items():
        monkeypatch.setenv(key, value)
    cls()  # every value validates


def test_policy_service_is_started_as_the_supervisor_starts_it(services: dict[str, Doc],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The supervisor passes --policy-dir, --host, --port, --signing-key, --nats-url, --oidc-url."""
    for key, value in env(services["policy"]).items():
        monkeypatch.setenv(key, value)
    settings = PolicySettings()
    assert settings.host == "0.0.0.0" and settings.port
    assert settings.signing_key and settings.nats_url and settings.oidc_url
    assert str(settings.policy_dir) == "/app/policy" and "COPY policy /app/policy" in DOCKERFILE.read_text()


def test_database_credentials_match_postgres(services: dict[str, Doc]) -> None:
    database = env(services["postgres"])
    for name in GRPC_SERVICES:
        given = env(services[name])
        assert host_of(given["BASIRA_DATABASE_URL"]) == "postgres"
        assert urlsplit(given["BASIRA_DATABASE_URL"]).path == f"/{database['POSTGRES_DB']}"
        assert (given["PGUSER"], given["PGPASSWORD"]) == (database["POSTGRES_USER"],
                                                          database["POSTGRES_PASSWORD"])


def test_postgres_has_pgvector_and_a_database_for_keycloak(services: dict[str, Doc]) -> None:
    init = [src for dst, src in mounts(services["postgres"]).items()
            if dst.startswith("/docker-entrypoint-initdb.d/")]
    sql = Path(init[0]).read_text().lower()
    assert "create extension if not exists vector" in sql
    keycloak_db = env(services["keycloak"])["KC_DB_URL"].rsplit("/", 1)[1]
    assert f"create database {keycloak_db};" in sql


# -- NATS, Keycloak, OPA --------------------------------------------------------------------------


def test_nats_is_a_three_node_jetstream_cluster(services: dict[str, Doc]) -> None:
    names = set()
    for server in NATS_SERVERS:
        service = services[server]
        names.add(flag(service, "--name"))
        config = Path(mounts(service)[flag(service, "-c")]).read_text()
        assert re.search(r"^jetstream\s*\{[^}]*store_dir:\s*/data", config, re.M | re.S)
        assert "/data" in mounts(service), f"{server}: JetStream storage is not a volume"
        routes = set(re.findall(r"nats://([\w-]+):6222", config))
        assert routes == set(NATS_SERVERS), routes
    assert names == set(NATS_SERVERS), "each server needs its own name"
    for name in GRPC_SERVICES:
        given = env(services[name])
        assert host_of(given["BASIRA_NATS_URL"]) in NATS_SERVERS
        assert int(given["BASIRA_NATS_REPLICAS"]) == len(NATS_SERVERS)


def test_keycloak_imports_the_realm_and_issues_what_services_expect(services: dict[str, Doc]) -> None:
    keycloak = services["keycloak"]
    assert "--import-realm" in command(keycloak)
    imported = {dst: src for dst, src in mounts(keycloak).items()
                if dst.startswith("/opt/keycloak/data/import/")}
    assert list(imported.values()) == [str(REALM_FILE)]
    issuer = env(keycloak)["KC_HOSTNAME"].rstrip("/") + "/realms/basira"
    for name in [*GRPC_SERVICES, "policy", "console"]:
        given = env(services[name])
        assert host_of(given["BASIRA_OIDC_URL"]) == "keycloak", name
        assert given["BASIRA_OIDC_ISSUER"] == issuer, name
    secret = env(services["console"])["BASIRA_CONSOLE_CLIENT_SECRET"]
    assert secret == realm_client_secret(REALM_FILE, "basira-console")


def test_opa_is_fed_the_policy_services_signed_bundle_with_its_key(services: dict[str, Doc]) -> None:
    opa, policy = services["opa"], services["policy"]
    config = yaml.safe_load(Path(mounts(opa)[flag(opa, "--config-file")]).read_text())
    bundle = config["bundles"][BUNDLE_NAME]
    server = config["services"][bundle["service"]]["url"]
    assert host_of(server) == "policy"
    assert urlsplit(server).port == int(env(policy)["BASIRA_POLICY_PORT"])
    assert "/" + bundle["resource"].lstrip("/") == BUNDLE_PATH
    assert bundle["signing"]["keyid"] == KEY_ID
    assert config["keys"][KEY_ID]["algorithm"] == ALGORITHM
    # The verification key OPA reads is the public half of the key the policy service signs with.
    setting, key_path = flag(opa, "--set-file").split("=", 1)
    assert setting == f"keys.{KEY_ID}.key"
    signing_key = PurePosixPath(env(policy)["BASIRA_POLICY_SIGNING_KEY"])
    public = PurePosixPath(str(public_key_path(Path(str(signing_key)))))
    volume_in_policy = {src: dst for dst, src in mounts(policy).items()}
    opa_mounts = mounts(opa)
    (shared,) = [src for src in opa_mounts.values() if src in volume_in_policy]
    in_opa = PurePosixPath(next(dst for dst, src in opa_mounts.items() if src == shared))
    assert PurePosixPath(key_path) == in_opa / public.relative_to(volume_in_policy[shared])
    assert str(opa.get("user", "0")).split(":")[0] not in {"0", "root", "10001"}, \
        "OPA must not be able to read the signing key (mode 0600, uid 10001) beside the public one"
    for name in GRPC_SERVICES:
        given = env(services[name])
        assert host_of(given["BASIRA_POLICY_URL"]) == "opa" and given["BASIRA_POLICY_SOURCE"] == "rest"


# -- docker compose -------------------------------------------------------------------------------


def compose_command() -> list[str]:
    """`docker compose` (the plugin) or a v2 `docker-compose`; skip, saying why, when neither runs."""
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True,
                                 timeout=30, check=False).returncode == 0:
        return [docker, "compose"]
    standalone = shutil.which("docker-compose")
    if standalone:
        version = subprocess.run([standalone, "version", "--short"], capture_output=True, text=True,
                                 timeout=30, check=False).stdout.strip()
        if version.lstrip("v").startswith("2"):
            return [standalone]
    pytest.skip("no Docker Compose v2 here: `docker compose version` fails"
                + (" (a docker client is installed, without the compose plugin)" if docker else "")
                + "; the structure is checked by the other tests of this file")


def test_docker_compose_config_accepts_the_file() -> None:
    result = subprocess.run([*compose_command(), "-f", str(COMPOSE_FILE), "config", "--quiet"],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
