"""Alerting settings (env `BASIRA_*` or the `[alerting]` table of BASIRA_CONFIG_FILE)."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import Field

from basira.alerting.thresholds import CountThreshold
from basira.common.config import ServiceSettings
from basira.common.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_AGENCIES_FILE = REPO_ROOT / "policy" / "basira" / "agencies" / "data.json"


class AlertingSettings(ServiceSettings):
    service_name_default = "alerting"

    dedupe_window_s: float = Field(120.0, ge=0, description=(
        "Repeat sightings of the same target at the same camera within this many seconds fold into "
        "the existing alert (sightings += 1) instead of raising a new one."))
    recipient_agencies: list[str] = Field(default_factory=list, description=(
        "Agencies asked (through policy) whether they receive each alert, besides the hotlist "
        "entry's owner. Empty: every agency in agencies_file whose agreement names a zone or camera."))
    agencies_file: Path = Field(DEFAULT_AGENCIES_FILE, description=(
        "Policy data file listing agencies (used only when recipient_agencies is empty)."))
    service_user: str = Field("service:alerting", description="User this service acts as in policy.")
    service_agency: str = Field("platform", description="Agency this service acts for in policy.")
    face_match_purpose: str = Field("serious-crime", description="Purpose given to policy for face hits.")
    health_purpose: str = Field("", description="Purpose given to policy for camera alarms ('' = none).")
    open_alert_replay_limit: int = Field(500, ge=0, description=(
        "At most this many still-open alerts are replayed to a StreamAlerts call with after_sequence 0."))
    republish_interval_s: float = Field(5.0, gt=0, description=(
        "How often alerts whose update was stored but not yet published are published again."))
    consumer_batch: int = Field(16, ge=1, le=512, description="Messages fetched per consumer pull.")
    count_thresholds: list[CountThreshold] = Field(default_factory=list, description=(
        "Crowd and congestion thresholds per zone or camera, e.g. BASIRA_COUNT_THRESHOLDS="
        "'[{\"zone\": \"medina\", \"persons_per_minute\": 40}, {\"camera_id\": \"cam-ring-01\", "
        "\"vehicles_per_minute\": 60}]'. A camera's rule overrides its zone's."))
    follows: bool = Field(True, description="Consume plate detections to deliver live follows.")

    def agency_names(self) -> frozenset[str]:
        """Every agency of the agreement (an escalation to one of them is delivered, by policy)."""
        try:
            document = json.loads(self.agencies_file.read_text())
        except (OSError, ValueError):
            return frozenset(self.recipient_agencies)
        return frozenset(document) | frozenset(self.recipient_agencies)

    def agencies(self) -> list[str]:
        """Recipient agencies to ask policy about (see recipient_agencies); raises ConfigError."""
        if self.recipient_agencies:
            return list(self.recipient_agencies)
        try:
            document = json.loads(self.agencies_file.read_text())
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            raise ConfigError(f"BASIRA_AGENCIES_FILE={self.agencies_file}: {exc}") from exc
        names = []
        for name, spec in sorted(document.items()):
            agreement = spec.get("agreement", {}) if isinstance(spec, dict) else {}
            if agreement.get("zones") or agreement.get("cameras"):
                names.append(name)
        return names
