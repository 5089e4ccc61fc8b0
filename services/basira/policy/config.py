"""Configuration of the policy service, from the environment (BASIRA_POLICY_*) or the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class PolicySettings(BaseSettings):
    """Where the policies are and where to serve them."""

    model_config = SettingsConfigDict(env_prefix="BASIRA_POLICY_", extra="forbid",
                                      populate_by_name=True)

    policy_dir: Path = Field(Path("policy"), description="directory of Rego modules and data.json files")
    host: str = Field("127.0.0.1", description="address to listen on")
    port: int = Field(8181, ge=0, le=65535, description="TCP port (0: any free port, logged at start)")
    engine: Literal["regorus", "opa"] = Field(
        "regorus", description="embedded regorus engine, or exec a real OPA on the same policies"
    )
    signing_key: Path | None = Field(
        None, description="ES256 key (PEM) that signs the bundles it serves; created when absent. "
        "Without one, no bundles are served.")
    nats_url: str = Field("", validation_alias="BASIRA_NATS_URL",
                          description="NATS with JetStream, for the access records of policy edits")
    nats_credentials: Path | None = Field(
        None, validation_alias="BASIRA_NATS_CREDENTIALS",
        description="this service's NATS identity (JSON {user, password}, made by `basira up`)")
    nats_manage_streams: bool = Field(
        True, validation_alias="BASIRA_NATS_MANAGE_STREAMS",
        description="declare the JetStream streams at start (false: the operator has)")
    record_signing_key: Path | None = Field(
        None, validation_alias="BASIRA_RECORD_SIGNING_KEY",
        description="Ed25519 key the access records of policy edits are signed with")
    oidc_url: str = Field("", validation_alias="BASIRA_OIDC_URL",
                          description="identity issuer that authenticates policy edits")
    oidc_realm: str = Field("basira", validation_alias="BASIRA_OIDC_REALM", description="realm")
    oidc_audience: str = Field("basira", validation_alias="BASIRA_OIDC_AUDIENCE",
                               description="audience every access token must carry")
    oidc_issuer: str = Field("", validation_alias="BASIRA_OIDC_ISSUER",
                             description="expected `iss` when Keycloak's public URL differs from oidc_url "
                             "(default: <oidc_url>/realms/<realm>)")
    opa_binary: str = Field(
        "",
        validation_alias="BASIRA_OPA_BINARY",
        description="path of the opa binary (default: `opa` on PATH)",
    )
