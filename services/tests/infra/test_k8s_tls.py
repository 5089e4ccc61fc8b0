"""TLS in the production manifests: every gRPC server and every caller has its certificate, probes stay
plaintext on a health-only port no one else reaches, and cert-manager's Certificates match the Secrets."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import grpc
import pytest
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer

from basira.common.channels import channel_credentials
from basira.common.tls import CA_ENV, CERT_ENV, KEY_ENV, TlsFiles
from basira.console.config import ConsoleSettings
from basira.runtime.supervisor import CONSOLE_BACKENDS, GRPC_SERVICES

from .test_k8s_manifests import (
    K8S,
    Doc,
    allowed_ports,
    deployment_of,
    environment,
    kustomization,
    kustomize_with,
    load,
    main_container,
    named,
    pod_labels,
    port,
    secret_files,
    secret_templates,
    selects,
    settings_class,
)

CERT_MANAGER = K8S / "components" / "cert-manager"
# The Secret keys cert-manager writes, and the variable that names each file.
TLS_FILES = {CA_ENV: "ca.crt", CERT_ENV: "tls.crt", KEY_ENV: "tls.key"}
PODS = (*GRPC_SERVICES, "console")
NAMESPACE = "basira"
# What the ingress controller presents when it re-encrypts to the services (README.md, "TLS").
INGRESS_SECRET = "basira-ingress-tls"


@pytest.fixture(scope="module")
def base() -> list[Doc]:
    return [doc for name in kustomization()["resources"] for doc in load(K8S / name)]


@pytest.fixture(scope="module")
def certificates() -> dict[str, Doc]:
    """The component's Certificates by the Secret each one writes."""
    component = yaml.safe_load((CERT_MANAGER / "kustomization.yaml").read_text())
    assert component["kind"] == "Component"
    docs = [d for name in component["resources"] for d in load(CERT_MANAGER / name)]
    found = [d for d in docs if d["kind"] == "Certificate"]
    by_secret = {d["spec"]["secretName"]: d for d in found}
    assert len(by_secret) == len(found), "two Certificates write the same Secret"
    return by_secret


def tls_secret(docs: list[Doc], pod: str) -> str:
    """The Secret whose ca.crt, tls.crt and tls.key `pod` reads through BASIRA_TLS_*, read-only."""
    deployment = deployment_of(docs, pod)
    env = environment(main_container(deployment), docs)
    files = secret_files(deployment)
    secrets = set()
    for variable, key in TLS_FILES.items():
        assert variable in env, f"{pod} does not set {variable}"
        path = Path(env[variable])
        assert path in files, f"{pod}: {variable}={path} is not a file of a mounted Secret"
        secret, mounted_key, read_only = files[path]
        assert mounted_key == key, f"{pod}: {variable} reads {secret}'s {mounted_key}, not {key}"
        assert read_only, f"{pod}: {path} is mounted writable"
        secrets.add(secret)
    assert len(secrets) == 1, f"{pod} takes its TLS files from {sorted(secrets)}"
    return secrets.pop()


def service_of(docs: list[Doc], service: str) -> Doc:
    deployment = deployment_of(docs, service)
    (found,) = [s for s in named(docs, "Service").values()
                if selects(s["spec"]["selector"], pod_labels(deployment))]
    return found


def dns_names(service: Doc) -> set[str]:
    """The names a client in the cluster may dial the Service by."""
    name, namespace = service["metadata"]["name"], service["metadata"]["namespace"]
    return {name, f"{name}.{namespace}", f"{name}.{namespace}.svc", f"{name}.{namespace}.svc.cluster.local"}


# -- every pod's certificate ------------------------------------------------------------------------


@pytest.mark.parametrize("pod", PODS)
def test_each_pod_reads_its_own_tls_secret(base: list[Doc], pod: str) -> None:
    secret = tls_secret(base, pod)
    assert secret == f"basira-{pod}-tls"
    template = secret_templates()[secret]
    assert set(TLS_FILES.values()) <= set(template["stringData"]), f"{secret}'s template lacks a key"


@pytest.mark.parametrize("service", GRPC_SERVICES)
def test_grpc_services_serve_mutual_tls(base: list[Doc], service: str) -> None:
    """All three files set (TLS on) and a client certificate required: the settings the server reads."""
    env = environment(main_container(deployment_of(base, service)), base)
    given = {k.removeprefix("BASIRA_").lower(): v for k, v in env.items()
             if k.startswith("BASIRA_") and v != "<valueFrom>"}
    settings = settings_class(service)(**given)
    assert settings.tls_ca and settings.tls_cert and settings.tls_key
    assert settings.tls_require_client_cert is True


def test_the_console_calls_every_service_with_tls_and_a_client_certificate(base: list[Doc]) -> None:
    env = environment(main_container(deployment_of(base, "console")), base)
    given = {k.removeprefix("BASIRA_").lower(): v for k, v in env.items()
             if k.startswith("BASIRA_") and v != "<valueFrom>"}
    settings = ConsoleSettings(**given)
    # basira.common.channels opens TLS channels, with this certificate, when these are set.
    assert settings.tls_ca and settings.tls_cert and settings.tls_key
    assert set(CONSOLE_BACKENDS) == set(GRPC_SERVICES)


# -- the plaintext health port ----------------------------------------------------------------------


@pytest.mark.parametrize("service", GRPC_SERVICES)
def test_the_health_port_is_reachable_by_the_kubelet_only(base: list[Doc], service: str) -> None:
    """No Service exposes it and no NetworkPolicy admits it: it is plaintext, for probes alone."""
    deployment = deployment_of(base, service)
    container = main_container(deployment)
    health = port(container, "health")
    for svc in named(base, "Service").values():
        if not selects(svc["spec"]["selector"], pod_labels(deployment)):
            continue
        for entry in svc["spec"]["ports"]:
            target = entry.get("targetPort", entry["port"])  # Kubernetes' default: the same number
            assert target not in ("health", health), f"{svc['metadata']['name']} exposes it"
    for policy in named(base, "NetworkPolicy").values():
        if selects(policy["spec"]["podSelector"].get("matchLabels", {}), pod_labels(deployment)):
            assert health not in allowed_ports(policy, "ingress"), f"{policy['metadata']['name']} admits it"


# -- cert-manager -----------------------------------------------------------------------------------


def test_cert_manager_issues_every_tls_secret_the_pods_and_the_ingress_use(
        base: list[Doc], certificates: dict[str, Doc]) -> None:
    wanted = {tls_secret(base, pod) for pod in PODS} | {INGRESS_SECRET}
    assert set(certificates) == wanted
    issuers = {tuple(sorted(c["spec"]["issuerRef"].items())) for c in certificates.values()}
    assert len(issuers) == 1, f"one CA signs them all (each pod trusts one ca.crt); got {issuers}"
    for secret, certificate in certificates.items():
        assert certificate["apiVersion"] == "cert-manager.io/v1"
        assert certificate["metadata"]["namespace"] == NAMESPACE, secret
        assert "client auth" in certificate["spec"]["usages"], f"{secret} cannot be a client (mutual TLS)"
    assert set(secret_templates()) >= wanted, "templates/secret-tls.yaml lacks a Secret"


@pytest.mark.parametrize("service", GRPC_SERVICES)
def test_a_service_certificate_names_its_service(base: list[Doc], certificates: dict[str, Doc],
                                                 service: str) -> None:
    certificate = certificates[tls_secret(base, service)]["spec"]
    assert "server auth" in certificate["usages"]
    names = dns_names(service_of(base, service))
    missing = names - set(certificate["dnsNames"])
    assert not missing, f"{service}'s certificate lacks {sorted(missing)}"
    console = environment(main_container(deployment_of(base, "console")), base)
    host = console[f"BASIRA_{CONSOLE_BACKENDS[service].upper()}_TARGET"].rsplit(":", 1)[0]
    assert host in certificate["dnsNames"], f"the console dials {host}, which {service}'s certificate lacks"


def test_the_cert_manager_component_renders_with_the_base(tmp_path: Path) -> None:
    docs = kustomize_with("cert-manager", tmp_path)
    rendered = {d["spec"]["secretName"] for d in docs if d["kind"] == "Certificate"}
    assert {tls_secret(docs, pod) for pod in PODS} | {INGRESS_SECRET} == rendered
    assert not named(docs, "Secret"), "the component issues Secrets; it must not ship any"


# -- the recipe for operators without cert-manager ----------------------------------------------------


def _template_recipe() -> str:
    """The shell commands in templates/secret-tls.yaml's comment, uncommented."""
    lines = (K8S / "templates" / "secret-tls.yaml").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("#   openssl req -x509"))
    end = next(i for i, line in enumerate(lines) if line.startswith("#   issue ingress"))
    return "\n".join(line.removeprefix("#").removeprefix("   ") for line in lines[start:end + 1])


async def _health(target_port: int, dial_as: str, client: TlsFiles) -> grpc.StatusCode:
    credentials = channel_credentials(client)
    assert credentials is not None
    async with grpc.aio.secure_channel(f"127.0.0.1:{target_port}", credentials,
                                       options=[("grpc.ssl_target_name_override", dial_as)]) as channel:
        try:
            await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
        except grpc.aio.AioRpcError as exc:
            return exc.code()
    return grpc.StatusCode.OK


async def test_the_templates_openssl_recipe_makes_certificates_mutual_tls_accepts(tmp_path: Path) -> None:
    """The console reaches a service by its Service name with the recipe's certificates, the ingress
    by the long name; a caller without a certificate, or a server under another name, is refused."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    script = "kubectl() { echo \"$@\" >> kubectl.log; }\n" + _template_recipe()
    made = subprocess.run(["bash", "-euc", script], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, check=False)
    assert made.returncode == 0, made.stderr
    created = (tmp_path / "kubectl.log").read_text()
    for pod in (*PODS, "ingress"):
        assert f"secret generic basira-{pod}-tls --type=kubernetes.io/tls --from-file=ca.crt " in created

    def files(name: str) -> TlsFiles:
        return TlsFiles(tmp_path / "ca.crt", tmp_path / f"{name}.crt", tmp_path / f"{name}.key")

    ca, cert, key = files("search").read()
    assert cert is not None and key is not None
    server = grpc.aio.server()
    health_pb2_grpc.add_HealthServicer_to_server(HealthServicer(), server)
    served = server.add_secure_port("127.0.0.1:0", grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=ca, require_client_auth=True))
    await server.start()
    try:
        assert await _health(served, "basira-search", files("console")) == grpc.StatusCode.OK
        assert await _health(served, "basira-search.basira.svc", files("ingress")) == grpc.StatusCode.OK
        anonymous = TlsFiles(tmp_path / "ca.crt")
        assert await _health(served, "basira-search", anonymous) == grpc.StatusCode.UNAVAILABLE
        assert await _health(served, "basira-audit", files("console")) == grpc.StatusCode.UNAVAILABLE
    finally:
        await server.stop(0)
