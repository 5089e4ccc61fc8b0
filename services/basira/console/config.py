"""Console settings (env `BASIRA_*` or the `[console]` table of BASIRA_CONFIG_FILE)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, model_validator

from basira.common.config import ServiceSettings

WEB_DIR = Path(__file__).resolve().parent / "web"
WEB_BUILD_COMMAND = "make console-web  (npm ci && npm run build in services/basira/console/web)"


class ConsoleSettings(ServiceSettings):
    service_name_default = "console"

    http_port: int = Field(0, ge=0, le=65535, description="HTTP port of the console; 0 picks a free one.")
    public_url: str = Field("", description=(
        "The console's origin as browsers reach it (e.g. https://console.example.org); it is the OIDC "
        "redirect URI's base and the only Origin accepted on state-changing calls. Default: "
        "http://<host>:<bound port>."))
    oidc_public_url: str = Field("", description=(
        "The issuer's base URL as browsers reach it, when it differs from oidc_url (the URL the "
        "console reaches it by)."))
    console_client_id: str = Field("basira-console", description="The console's OIDC client id.")
    console_client_secret: SecretStr = Field(SecretStr(""), description=(
        "The console's OIDC client secret (confidential client). Required; `basira up` takes the dev "
        "realm's from infra/keycloak/basira-realm.json."))
    session_idle_s: float = Field(1800.0, gt=0, description="A session ends after this long unused.")
    max_sessions: int = Field(10_000, ge=1, description="Sessions held at most (oldest idle dropped).")
    refresh_margin_s: float = Field(30.0, ge=0, description=(
        "Refresh the access token when it has less than this many seconds left."))
    login_timeout_s: float = Field(600.0, gt=0, description="Seconds a started sign-in stays valid.")
    keepalive_s: float = Field(15.0, gt=0, description="SSE comment interval (keeps proxies open).")
    static_dir: Path = Field(WEB_DIR / "dist", description="The built single-page app.")
    ingest_target: str = Field("127.0.0.1:50051", description="host:port of CameraService (ingest).")
    analytics_target: str = Field("127.0.0.1:50052", description=(
        "host:port of WatchlistService (served by analytics)."))
    search_target: str = Field("127.0.0.1:50053", description="host:port of SearchService.")
    alerting_target: str = Field("127.0.0.1:50054", description="host:port of AlertService.")
    audit_target: str = Field("127.0.0.1:50055", description="host:port of AuditService.")
    policy_dir: Path = Field(Path(__file__).resolve().parents[3] / "policy", description=(
        "The policy bundle directory shown read-only on the Policy page."))
    rpc_timeout_s: float = Field(30.0, gt=0, description="Deadline of each forwarded unary call.")

    @model_validator(mode="after")
    def _urls(self) -> ConsoleSettings:
        for name in ("public_url", "oidc_public_url"):
            value = getattr(self, name)
            if value:
                parts = urlsplit(value)
                if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
                    raise ValueError(f"{name} must be an origin like https://console.example.org, "
                                     f"got {value!r}")
                setattr(self, name, value.rstrip("/"))
        return self
