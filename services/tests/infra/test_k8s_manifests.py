"""The production manifests (infra/k8s) start each service the way the code expects to be started."""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from basira.audit.sth import KEY_FILE
from basira.common.config import ServiceSettings
from basira.runtime.supervisor import GRPC_SERVICES, Platform, PlatformConfig

REPO = Path(__file__).resolve().parents[3]
K8S = REPO / "infra" / "k8s"
DOCKERFILE = REPO / "infra" / "docker" / "Dockerfile"
NAMESPACE = "basira"
CLUSTER_SCOPED = {"Namespace"}
KUSTOMIZE_KINDS = {"Kustomization", "Component"}

Doc = dict[str, Any]


def load(path: Path) -> list[Doc]:
    """Every non-empty YAML document of a file; each must name its kind and itself."""
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    for doc in docs:
        assert isinstance(doc, dict), f"{path}: a document is not a mapping"
        assert doc.get("apiVersion") and doc.get("kind"), f"{path}: a document has no apiVersion/kind"
        if doc["kind"] not in KUSTOMIZE_KINDS:
            assert doc.get("metadata", {}).get("name"), f"{path}: a {doc['kind']} has no name"
    return docs


def kustomization() -> Doc:
    doc = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert isinstance(doc, dict)
    return doc


@pytest.fixture(scope="module")
def base() -> list[Doc]:
    """The documents of every resource the base lists."""
    return [doc for name in kustomization()["resources"] for doc in load(K8S / name)]


def named(docs: list[Doc], kind: str) -> dict[str, Doc]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def deployment_of(docs: list[Doc], service: str) -> Doc:
    """The one Deployment whose container runs `basira.<service>`."""
    found = [d for d in named(docs, "Deployment").values()
             if any(f"basira.{service}" in c.get("command", []) for c in containers(d))]
    assert len(found) == 1, f"{len(found)} Deployments run basira.{service}"
    return found[0]


def containers(deployment: Doc) -> list[Doc]:
    return list(deployment["spec"]["template"]["spec"]["containers"])


def main_container(deployment: Doc) -> Doc:
    (container,) = containers(deployment)
    return container


def port(container: Doc, name: str) -> int:
    numbers = [p["containerPort"] for p in container.get("ports", []) if p.get("name") == name]
    assert len(numbers) == 1, f"container {container['name']} has no single port named {name!r}"
    return int(numbers[0])


def secret_templates() -> dict[str, Doc]:
    return named([d for p in sorted((K8S / "templates").glob("*.yaml")) for d in load(p)], "Secret")


def environment(container: Doc, docs: list[Doc]) -> dict[str, str]:
    """The container's variables as Kubernetes resolves them (explicit env wins over envFrom).

    ConfigMaps come from the base; Secrets from templates/ (they are not in the base). A variable
    taken from the downward API or a single key reads as `<valueFrom>`.
    """
    configmaps = named(docs, "ConfigMap")
    secrets = secret_templates()
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(configmaps[source["configMapRef"]["name"]]["data"])
        elif "secretRef" in source:
            env.update(secrets[source["secretRef"]["name"]]["stringData"])
    for item in container.get("env", []):
        env[item["name"]] = str(item["value"]) if "value" in item else "<valueFrom>"
    return env


def settings_class(service: str) -> type[ServiceSettings]:
    """The service's settings class: the ServiceSettings subclass named for it in basira.<service>.config."""
    module = importlib.import_module(f"basira.{service}.config")
    found: list[type[ServiceSettings]] = [
        v for v in vars(module).values()
        if isinstance(v, type) and issubclass(v, ServiceSettings)
        and getattr(v, "service_name_default", "") == service]
    assert len(found) == 1, f"basira.{service}.config has {len(found)} settings classes for {service}"
    return found[0]


def pod_labels(deployment: Doc) -> dict[str, str]:
    return dict(deployment["spec"]["template"]["metadata"]["labels"])


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def secret_files(deployment: Doc) -> dict[Path, tuple[str, str, bool]]:
    """Every file the main container reads from a Secret volume: path → (Secret, key, read-only).

    A volume without `items` projects every key; its keys are then the template's.
    """
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    files: dict[Path, tuple[str, str, bool]] = {}
    for mount in main_container(deployment).get("volumeMounts", []):
        secret = volumes[mount["name"]].get("secret")
        if secret is None:
            continue
        name = secret["secretName"]
        items = secret.get("items") or [{"key": k, "path": k} for k in secret_templates()[name]["stringData"]]
        for item in items:
            files[Path(mount["mountPath"]) / item["path"]] = (name, item["key"], bool(mount.get("readOnly")))
    return files


def prestop_seconds(container: Doc) -> float:
    command = container.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    return float(command[1]) if command[:1] == ["sleep"] else 0.0


# -- the files ------------------------------------------------------------------------------------


def test_every_manifest_parses() -> None:
    files = sorted(K8S.rglob("*.yaml"))
    assert len(files) >= 10
    for path in files:
        load(path)


def test_kustomization_lists_every_manifest_and_only_existing_ones() -> None:
    listed = kustomization()["resources"]
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert len(listed) == len(set(listed)), "a resource is listed twice"
    assert set(listed) == on_disk, (
        f"not listed: {sorted(on_disk - set(listed))}; listed but missing: {sorted(set(listed) - on_disk)}")


def test_everything_lives_in_the_basira_namespace(base: list[Doc]) -> None:
    assert kustomization()["namespace"] == NAMESPACE
    assert NAMESPACE in named(base, "Namespace")
    for doc in base:
        if doc["kind"] not in CLUSTER_SCOPED:
            assert doc["metadata"].get("namespace") == NAMESPACE, f"{doc['kind']} {doc['metadata']['name']}"


def test_no_secret_is_in_the_base(base: list[Doc]) -> None:
    """Re-applying the base must never overwrite the real credentials or the audit key."""
    assert not named(base, "Secret")


# -- each gRPC service ----------------------------------------------------------------------------


@pytest.mark.parametrize("service", GRPC_SERVICES)
def test_deployment_runs_the_service_from_the_one_image(base: list[Doc], service: str) -> None:
    container = main_container(deployment_of(base, service))
    assert container["command"] == ["python", "-m", f"basira.{service}"]
    assert container["image"].split(":")[0] == "basira"
    assert "basira" in [i["name"] for i in kustomization()["images"]]


@pytest.mark.parametrize("service", GRPC_SERVICES)
def test_deployment_gets_every_variable_the_supervisor_gives(base: list[Doc], service: str) -> None:
    container = main_container(deployment_of(base, service))
    env = environment(container, base)
    wanted = Platform(PlatformConfig()).service_env(service, 50051)
    missing = sorted(set(wanted) - set(env))
    assert not missing, f"{service} lacks {missing}"
    for name in wanted:
        assert env[name], f"{service}: {name} is empty"
    assert env["BASIRA_HOST"] == "0.0.0.0"
    assert int(env["BASIRA_GRPC_PORT"]) == port(container, "grpc")
    assert int(env["BASIRA_METRICS_PORT"]) == port(container, "metrics")


@pytest.mark.parametrize("service", GRPC_SERVICES)
def test_every_basira_variable_names_a_setting(base: list[Doc], service: str) -> None:
    """Settings ignore unknown variables, so a misspelt one would be silently dropped."""
    cls = settings_class(service)
    env = environment(main_container(deployment_of(base, service)), base)
    given = {k.removeprefix("BASIRA_").lower(): v for k, v in env.items() if k.startswith("BASIRA_")}
    unknown = sorted(f"BASIRA_{k.upper()}" for k in set(given) - set(cls.model_fields))
    assert not unknown, f"{service}: no such setting: {unknown}"
    cls(**{k: v for k, v in given.items() if v != "<valueFrom>"})  # and each value validates


@pytest.mark.parametrize("service", GRPC_SERVICES)
def test_probes_are_grpc_health_checks_on_the_plaintext_health_port(base: list[Doc], service: str) -> None:
    """The kubelet's gRPC probes cannot speak TLS: they ask the service's health-only port."""
    container = main_container(deployment_of(base, service))
    health_port = port(container, "health")
    assert health_port != port(container, "grpc")
    assert int(environment(container, base)["BASIRA_HEALTH_PORT"]) == health_port
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert probe in container, f"{service} has no {probe}"
        assert container[probe]["grpc"]["port"] == health_port, f"{service} {probe}"
        assert not {"httpGet", "tcpSocket", "exec"} & set(container[probe]), f"{service} {probe}"


@pytest.mark.parametrize("service", GRPC_SERVICES)
def test_a_service_exposes_the_grpc_port(base: list[Doc], service: str) -> None:
    deployment = deployment_of(base, service)
    container = main_container(deployment)
    matching = [s for s in named(base, "Service").values()
                if selects(s["spec"]["selector"], pod_labels(deployment))]
    assert len(matching) == 1, f"{len(matching)} Services select {service}"
    targets = {p.get("targetPort") for p in matching[0]["spec"]["ports"]}
    assert targets & {"grpc", port(container, "grpc")}, f"the {service} Service does not reach gRPC"


@pytest.mark.parametrize("service", GRPC_SERVICES)
def test_prometheus_scrapes_the_metrics_port(base: list[Doc], service: str) -> None:
    deployment = deployment_of(base, service)
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert int(annotations["prometheus.io/port"]) == port(main_container(deployment), "metrics")


@pytest.mark.parametrize("service", GRPC_SERVICES)
def test_termination_grace_covers_prestop_and_the_service_grace_period(base: list[Doc], service: str) -> None:
    deployment = deployment_of(base, service)
    container = main_container(deployment)
    env = environment(container, base)
    default_grace = ServiceSettings.model_fields["grace_period_s"].default
    service_grace = float(env.get("BASIRA_GRACE_PERIOD_S", default_grace))
    budget = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert budget > prestop_seconds(container) + service_grace + 5, f"{service}: {budget}s is too short"


@pytest.mark.parametrize("service", GRPC_SERVICES)
def test_pods_run_non_root_on_a_read_only_root_with_writable_scratch(base: list[Doc], service: str) -> None:
    deployment = deployment_of(base, service)
    pod = deployment["spec"]["template"]["spec"]
    container = main_container(deployment)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["automountServiceAccountToken"] is False
    context = container["securityContext"]
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"]["drop"] == ["ALL"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert set(mounts.values()) <= set(volumes), f"{service} mounts a volume it does not declare"
    env = environment(container, base)
    for writable in ("/tmp", env["BASIRA_DATA_DIR"]):
        assert "emptyDir" in volumes[mounts[writable]], f"{service}: {writable} is not scratch space"


@pytest.mark.parametrize("service", GRPC_SERVICES)
def test_resources_are_bounded(base: list[Doc], service: str) -> None:
    resources = main_container(deployment_of(base, service))["resources"]
    for key in ("cpu", "memory"):
        assert key in resources["requests"] and key in resources["limits"], f"{service} {key}"


@pytest.mark.parametrize("service", GRPC_SERVICES)
def test_every_secret_a_pod_uses_has_a_template_with_its_keys(base: list[Doc], service: str) -> None:
    deployment = deployment_of(base, service)
    templates = secret_templates()
    for source in main_container(deployment).get("envFrom", []):
        if "secretRef" in source:
            assert source["secretRef"]["name"] in templates
    for volume in deployment["spec"]["template"]["spec"]["volumes"]:
        if "secret" in volume:
            template = templates[volume["secret"]["secretName"]]
            for item in volume["secret"].get("items", []):
                assert item["key"] in template["stringData"]


# -- rules particular to some services ------------------------------------------------------------


def test_audit_runs_one_writer_and_reads_its_key_from_the_secret(base: list[Doc]) -> None:
    deployment = deployment_of(base, "audit")
    assert deployment["spec"]["replicas"] == 1
    key_path = Path(environment(main_container(deployment), base)["BASIRA_DATA_DIR"]) / KEY_FILE
    mounted = secret_files(deployment)
    assert key_path in mounted and mounted[key_path][2], (
        f"the key must be mounted read-only at {key_path}; got {sorted(map(str, mounted))}")


@pytest.mark.parametrize("service", [s for s in GRPC_SERVICES if s != "audit"])
def test_replicated_services_run_two_copies_under_a_disruption_budget(base: list[Doc], service: str) -> None:
    deployment = deployment_of(base, service)
    assert deployment["spec"]["replicas"] >= 2
    budgets = [b for b in named(base, "PodDisruptionBudget").values()
               if selects(b["spec"]["selector"]["matchLabels"], pod_labels(deployment))]
    assert len(budgets) == 1
    assert budgets[0]["spec"]["minAvailable"] < deployment["spec"]["replicas"]


def test_alerting_agencies_file_is_in_the_image() -> None:
    """BASIRA_AGENCIES_FILE must name a file the Dockerfile copies in (a missing file means no agencies)."""
    docs = [d for name in kustomization()["resources"] for d in load(K8S / name)]
    wanted = environment(main_container(deployment_of(docs, "alerting")), docs)["BASIRA_AGENCIES_FILE"]
    copies = re.findall(r"^COPY\s+(?!--)(\S+)\s+(\S+)\s*$", DOCKERFILE.read_text(), re.MULTILINE)
    sources = [REPO / src / Path(wanted).relative_to(dst) for src, dst in copies
               if Path(wanted).is_relative_to(dst)]
    assert sources and sources[0].is_file(), f"{wanted} is not copied from the repository"


# -- network --------------------------------------------------------------------------------------


def allowed_ports(policy: Doc, direction: str) -> set[int]:
    return {int(p["port"]) for rule in policy["spec"].get(direction, []) for p in rule.get("ports", [])}


def test_network_is_denied_by_default_and_opened_for_what_the_services_use(base: list[Doc]) -> None:
    policies = list(named(base, "NetworkPolicy").values())
    assert any(p["spec"]["podSelector"] == {} and set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
               and not p["spec"].get("ingress") and not p["spec"].get("egress") for p in policies)
    config = named(base, "ConfigMap")["basira-platform"]["data"]
    external = {urlsplit(config[k]).port or 0
                for k in ("BASIRA_NATS_URL", "BASIRA_DATABASE_URL", "BASIRA_POLICY_URL")}
    assert 0 not in external, "give NATS, PostgreSQL and OPA URLs an explicit port"
    for service in GRPC_SERVICES:
        deployment = deployment_of(base, service)
        labels = pod_labels(deployment)
        mine = [p for p in policies if selects(p["spec"]["podSelector"].get("matchLabels", {}), labels)]
        egress = set().union(*(allowed_ports(p, "egress") for p in mine))
        ingress = set().union(*(allowed_ports(p, "ingress") for p in mine))
        assert {53, *external} <= egress, f"{service} egress lacks {sorted({53, *external} - egress)}"
        container = main_container(deployment)
        assert {port(container, "grpc"), port(container, "metrics")} <= ingress, service


# -- rendering ------------------------------------------------------------------------------------


def kustomize(directory: Path) -> list[Doc]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed")
    result = subprocess.run([kubectl, "kustomize", str(directory)], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d]


def test_the_base_renders_to_the_listed_resources(base: list[Doc]) -> None:
    rendered = {(d["kind"], d["metadata"]["name"]) for d in kustomize(K8S)}
    assert rendered == {(d["kind"], d["metadata"]["name"]) for d in base}


def kustomize_with(component: str, overlay: Path) -> list[Doc]:
    """The base rendered with `components/<component>`, through an overlay written in `overlay`."""
    base_path = os.path.relpath(K8S, overlay)
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "resources": [base_path], "components": [f"{base_path}/components/{component}"]}))
    return kustomize(overlay)


def test_the_gpu_component_puts_analytics_on_gpu_nodes(tmp_path: Path) -> None:
    docs = kustomize_with("analytics-gpu", tmp_path)
    pod = deployment_of(docs, "analytics")["spec"]["template"]["spec"]
    assert pod["nodeSelector"] and pod["tolerations"]
    (container,) = pod["containers"]
    assert container["command"] == ["python", "-m", "basira.analytics"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert "nodeSelector" not in deployment_of(docs, "search")["spec"]["template"]["spec"]
