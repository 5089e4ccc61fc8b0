"""Service configuration: environment variables (`BASIRA_*`) or a TOML file, validated at start-up.

Unknown keys are rejected so a typo fails loudly instead of being ignored (Frigate's lesson).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from basira.common.errors import ConfigError
from basira.common.rate_limits import Rate


class _TomlFileSource(PydanticBaseSettingsSource):
    """Reads the `[<service>]` table (and top-level keys) of the file named by BASIRA_CONFIG_FILE."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = os.environ.get("BASIRA_CONFIG_FILE")
        if not path:
            return {}
        try:
            document = tomllib.loads(Path(path).read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"BASIRA_CONFIG_FILE={path}: {exc}") from exc
        service = getattr(self.settings_cls, "service_name_default", "")
        values = {k: v for k, v in document.items() if not isinstance(v, dict)}
        values.update(document.get(service, {}))
        return values


class ServiceSettings(BaseSettings):
    """What every service needs: where it listens and where the shared parts are."""

    model_config = SettingsConfigDict(env_prefix="BASIRA_", extra="ignore")
    service_name_default: ClassVar[str] = ""

    host: str = Field("127.0.0.1", description="Address the gRPC server binds to.")
    grpc_port: int = Field(0, ge=0, le=65535, description="gRPC port; 0 picks a free one.")
    metrics_port: int = Field(0, ge=0, le=65535, description="Prometheus /metrics port; 0 picks one.")
    health_port: int = Field(
        0, ge=0, le=65535, description="Plaintext port serving only grpc.health.v1 (no API) for probes "
        "that cannot speak TLS, e.g. the kubelet's gRPC probes; 0: none.")
    data_dir: Path = Field(Path("var"), description="Directory for this platform's data and keys.")
    nats_url: str = Field("nats://127.0.0.1:4222", description="NATS server with JetStream.")
    nats_credentials: Path | None = Field(
        None, description="JSON file {user, password}: this service's NATS identity (made by `basira up`).")
    nats_manage_streams: bool = Field(
        True, description="Create/update the JetStream streams at start; false when the operator "
        "declares them and this service's identity may only check they exist.")
    record_signing_key: Path | None = Field(
        None, description="Ed25519 PEM key this service signs its access records with (made by `basira "
        "up`); unsigned records when unset.")
    record_keys_dir: Path | None = Field(
        None, description="Directory of every service's record public key (<service>.pub.pem): the audit "
        "service then refuses a record its service did not sign.")
    tls_cert: Path | None = Field(None, description="PEM certificate this service serves gRPC with (TLS "
                                  "on when set, with tls_key and tls_ca).")
    tls_key: Path | None = Field(None, description="PEM private key of tls_cert.")
    tls_ca: Path | None = Field(None, description="PEM CA that signs the platform's certificates.")
    tls_require_client_cert: bool = Field(False, description="Mutual TLS only: refuse a client "
                                          "without a certificate from tls_ca.")
    nats_replicas: int = Field(1, ge=1, le=5, description="JetStream replicas per stream (3 in "
                               "production clusters).")
    database_url: str = Field("", description="PostgreSQL URL (libpq form); empty if unused.")
    policy_url: str = Field("http://127.0.0.1:8181", description="Policy service (bundle server and "
                            "OPA REST API) base URL, or an OPA sidecar's with policy_source=rest.")
    policy_source: Literal["bundle", "rest"] = Field(
        "bundle", description="bundle: download the signed policy bundle from policy_url and decide in "
        "this process; rest: ask policy_url's OPA Data API for each decision (an OPA sidecar).")
    policy_public_key: Path | None = Field(
        None, description="PEM public key that signs policy bundles; default: <data_dir>/policy/"
        "bundle-signing-key.pub.pem (made by `basira up`).")
    policy_evaluation: Literal["inline", "worker"] = Field(
        "worker", description="inline: evaluate on the event loop; worker: in a decision worker process "
        "of this service (the loop keeps serving; see `make bench-gate`).")
    policy_max_staleness_s: float = Field(
        60.0, gt=0, description="Refuse every decision when the bundle server has not confirmed the "
        "active revision for this long.")
    oidc_url: str = Field("http://127.0.0.1:8080", description="Keycloak (or dev issuer) base URL.")
    oidc_realm: str = Field("basira", description="Keycloak realm.")
    oidc_audience: str = Field("basira", description="Audience every access token must carry.")
    oidc_client_id: str = Field("basira-services", description="This service's OIDC client id.")
    oidc_issuer: str = Field("", description="Expected `iss` when services reach Keycloak by an "
                             "internal URL; default: <oidc_url>/realms/<realm>.")
    rate_limits: dict[str, Rate] = Field(
        default_factory=dict, description="JSON {action: {per_minute, burst}} replacing entries of the "
        "gate's default rate limits (basira.common.rate_limits; `auth.failure` limits failed "
        "authentications per source address); per_minute 0 turns one off.")
    log_level: str = Field("INFO", description="Python logging level name.")
    def bundle_public_key(self) -> Path:
        """Where the policy bundle verification key is."""
        return self.policy_public_key or self.data_dir / "policy" / "bundle-signing-key.pub.pem"

    grace_period_s: float = Field(5.0, ge=0, description="Seconds in-flight RPCs get on shutdown.")
    ready_file: Path | None = Field(None, description="Written with the bound ports once serving.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _TomlFileSource(settings_cls)


S = TypeVar("S", bound=ServiceSettings)


def load_settings(cls: type[S], **overrides: Any) -> S:
    """Build settings or raise ConfigError naming each bad setting (env var name) and why."""
    try:
        return cls(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"BASIRA_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration for {cls.__name__}: {problems}") from exc
