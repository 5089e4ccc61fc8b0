"""Wiring for the audit service: settings → store (+ signing key) → consumer → gRPC server → serve."""

from __future__ import annotations

from pathlib import Path

import grpc

from basira.common.config import load_settings
from basira.common.record_signing import load_public_keys
from basira.common.service import ServiceHost, run_service
from basira.v1 import audit_pb2, audit_pb2_grpc

from .config import AuditSettings
from .events import LogAppender
from .servicer import AuditServicer
from .sth import TreeHeadSigner, load_or_create_signing_key
from .store import AuditStore

MIGRATIONS = Path(__file__).parent / "migrations"


def _settings(host: ServiceHost) -> AuditSettings:
    assert isinstance(host.settings, AuditSettings)
    return host.settings


async def setup(host: ServiceHost) -> None:
    settings = _settings(host)
    signer = TreeHeadSigner(load_or_create_signing_key(settings.data_dir))
    store = AuditStore(host.db, signer)
    record_keys = load_public_keys(settings.record_keys_dir) if settings.record_keys_dir else None
    appender = LogAppender(host.jetstream, store, batch=settings.append_batch,
                           sign_interval_s=settings.sign_interval_s, record_keys=record_keys)
    host.loop(appender.run)
    assert host.gate is not None
    servicer = AuditServicer(store, audit_gate=host.gate, chunk_bytes=settings.export_chunk_bytes)

    def add(server: grpc.aio.Server) -> list[str]:
        audit_pb2_grpc.add_AuditServiceServicer_to_server(servicer, server)
        return [audit_pb2.DESCRIPTOR.services_by_name["AuditService"].full_name]

    host.build_server(add)


def main() -> int:
    return run_service("audit", load_settings(AuditSettings), setup, migrations=MIGRATIONS)
