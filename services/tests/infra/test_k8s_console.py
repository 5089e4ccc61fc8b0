"""The console's manifest: started the way the code expects, reachable, and reaching what it calls."""

from __future__ import annotations

from basira.console.config import ConsoleSettings
from basira.runtime.supervisor import CONSOLE_BACKENDS, GRPC_SERVICES, Platform, PlatformConfig

from .test_k8s_manifests import (
    K8S,
    Doc,
    allowed_ports,
    deployment_of,
    environment,
    kustomization,
    load,
    main_container,
    named,
    pod_labels,
    port,
    secret_templates,
    selects,
)

REALM = K8S.parent / "keycloak" / "basira-realm.json"


def _base() -> list[Doc]:
    return [doc for name in kustomization()["resources"] for doc in load(K8S / name)]


def test_console_runs_from_the_one_image_with_every_setting_the_supervisor_gives() -> None:
    docs = _base()
    container = main_container(deployment_of(docs, "console"))
    assert container["command"] == ["python", "-m", "basira.console"]
    env = environment(container, docs)
    platform = Platform(PlatformConfig(realm_file=REALM))
    platform.endpoints.update({name: "x:1" for name in CONSOLE_BACKENDS})
    missing = sorted(set(platform.console_env(8080)) - set(env))
    assert not missing, f"the console lacks {missing}"
    assert int(env["BASIRA_HTTP_PORT"]) == port(container, "http")
    given = {k.removeprefix("BASIRA_").lower(): v for k, v in env.items() if k.startswith("BASIRA_")}
    unknown = sorted(set(given) - set(ConsoleSettings.model_fields))
    assert not unknown, f"no such console setting: {unknown}"
    settings = ConsoleSettings(**{k: v for k, v in given.items() if v != "<valueFrom>"})
    assert settings.public_url.startswith("https://"), "browsers need HTTPS for the Secure cookie"
    for service, prefix in CONSOLE_BACKENDS.items():
        assert env[f"BASIRA_{prefix.upper()}_TARGET"] == f"basira-{service}:50051"


def test_console_secret_comes_from_a_templated_secret_and_probes_use_healthz() -> None:
    docs = _base()
    container = main_container(deployment_of(docs, "console"))
    [secret_env] = [e for e in container["env"] if e["name"] == "BASIRA_CONSOLE_CLIENT_SECRET"]
    ref = secret_env["valueFrom"]["secretKeyRef"]
    assert ref["key"] in secret_templates()[ref["name"]]["stringData"]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["securityContext"]["readOnlyRootFilesystem"] is True


def test_network_lets_browsers_in_and_the_console_reach_every_grpc_service() -> None:
    docs = _base()
    policies = list(named(docs, "NetworkPolicy").values())
    console = deployment_of(docs, "console")
    labels = pod_labels(console)
    mine = [p for p in policies if selects(p["spec"]["podSelector"].get("matchLabels", {}), labels)]
    assert port(main_container(console), "http") in set().union(*(allowed_ports(p, "ingress") for p in mine))
    assert 50051 in set().union(*(allowed_ports(p, "egress") for p in mine))
    for service in GRPC_SERVICES:
        target = pod_labels(deployment_of(docs, service))
        from_console = [p for p in policies
                        if selects(p["spec"]["podSelector"].get("matchLabels", {}), target)
                        and any(selects(peer.get("podSelector", {}).get("matchLabels", {}), labels)
                                for rule in p["spec"].get("ingress", []) for peer in rule.get("from", []))]
        assert from_console, f"{service} does not admit the console"


def test_realm_registers_the_console_as_a_confidential_pkce_client() -> None:
    import json

    realm = json.loads(REALM.read_text())
    [client] = [c for c in realm["clients"] if c["clientId"] == "basira-console"]
    assert client["publicClient"] is False and client["standardFlowEnabled"] is True
    assert client["directAccessGrantsEnabled"] is False and client["implicitFlowEnabled"] is False
    assert client["attributes"]["pkce.code.challenge.method"] == "S256"
    assert all(uri.endswith("/auth/callback") for uri in client["redirectUris"])
