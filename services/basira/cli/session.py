"""What a CLI call needs to talk to a running platform: its endpoints and a signed-in user's token."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import grpc

from basira.common.channels import open_channel
from basira.common.errors import ConfigError
from basira.common.tls import CA_ENV, https_verify


def load_endpoints(data_dir: Path) -> dict[str, str]:
    """Endpoints written by `basira up`; raises ConfigError if no platform runs from `data_dir`.

    This process's gRPC clients then trust the platform's local CA (when it serves TLS, as it does by
    default), unless BASIRA_TLS_CA already names one.
    """
    run = data_dir.resolve() / "run"
    path = run / "endpoints.json"
    if not path.exists():
        raise ConfigError(f"no running platform found in {data_dir} (start one with `basira up`)")
    endpoints: dict[str, str] = json.loads(path.read_text())
    client = run / "client.json"
    ca = json.loads(client.read_text()).get("tls_ca", "") if client.exists() else ""
    if ca:
        os.environ.setdefault(CA_ENV, ca)
    return endpoints


def password_token(oidc_url: str, username: str, password: str, *, realm: str = "basira",
                   client_id: str = "basira-cli") -> str:
    """An access token from Keycloak (or the dev issuer) via the password grant, using python-keycloak."""
    from keycloak import KeycloakOpenID

    client = KeycloakOpenID(server_url=oidc_url.rstrip("/") + "/", realm_name=realm, client_id=client_id,
                            verify=https_verify())
    token: str = client.token(username, password)["access_token"]
    return token


def bearer_metadata(token: str) -> tuple[tuple[str, str]]:
    """gRPC call metadata carrying an access token."""
    return (("authorization", f"Bearer {token}"),)


def dev_user_token(oidc_url: str, user: str) -> str:
    """A token for one of the development users of infra/keycloak (password `<user>-dev-password`).

    For the demo, e2e tests and benchmarks on the embedded platform only.
    """
    return password_token(oidc_url, user, f"{user}-dev-password")


@dataclass
class Session:
    """A signed-in CLI user: gRPC channels carry `authorization: Bearer <token>`."""

    endpoints: dict[str, str]
    token: str

    @classmethod
    def sign_in(cls, data_dir: Path, username: str | None, password: str | None) -> Session:
        endpoints = load_endpoints(data_dir)
        token = os.environ.get("BASIRA_TOKEN", "")
        if not token:
            user = username or os.environ.get("BASIRA_USER")
            secret = password or os.environ.get("BASIRA_PASSWORD")
            if not user or not secret:
                raise ConfigError("sign in with --user/--password (or BASIRA_USER/BASIRA_PASSWORD, or "
                                  "BASIRA_TOKEN); see infra/keycloak/README.md for the dev users")
            token = password_token(endpoints["identity"], user, secret)
        return cls(endpoints, token)

    def channel(self, service: str) -> grpc.Channel:
        return open_channel(self.endpoints[service], options=[
            ("grpc.max_receive_message_length", 32 * 1024 * 1024)])

    @property
    def metadata(self) -> tuple[tuple[str, str]]:
        return bearer_metadata(self.token)
