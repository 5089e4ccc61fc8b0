"""Audit service settings."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from basira.common.config import ServiceSettings


class AuditSettings(ServiceSettings):
    service_name_default: ClassVar[str] = "audit"

    append_batch: int = Field(1000, ge=1, le=50_000, description="Access records appended per transaction.")
    sign_interval_s: float = Field(1.0, gt=0, description="Sign a tree head at most this often while busy.")
    export_chunk_bytes: int = Field(1 << 20, ge=4096, description="Bytes per ExportLog stream message.")
