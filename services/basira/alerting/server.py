"""Wiring of the alerting service: consumers, the republisher, AlertService and its resolvers."""

from __future__ import annotations

from pathlib import Path

import grpc

from basira.alerting.config import AlertingSettings
from basira.alerting.events import AlertEngine, consumers
from basira.alerting.follow_store import FollowStore
from basira.alerting.servicer import AlertServicer, alert_resolver, follow_resolver
from basira.alerting.store import AlertStore
from basira.common.config import load_settings
from basira.common.service import ServiceHost, run_service
from basira.v1 import alert_pb2, alert_pb2_grpc

MIGRATIONS = Path(__file__).parent / "migrations"
RESOLVED_METHODS = tuple(f"/basira.v1.AlertService/{name}"
                         for name in ("AcknowledgeAlert", "ConfirmMatch", "RejectMatch", "EscalateAlert"))


async def setup(host: ServiceHost) -> None:
    settings = host.settings
    assert isinstance(settings, AlertingSettings)
    assert host.gate is not None
    store = AlertStore(host.db)
    follows = FollowStore(host.db) if settings.follows else None
    engine = AlertEngine(store, host.gate, host.jetstream, settings, follows=follows)
    for consumer in consumers(host.jetstream, engine, batch=settings.consumer_batch):
        host.loop(consumer.run)
    host.loop(engine.republish_loop)
    for method in RESOLVED_METHODS:
        host.resolver(method, alert_resolver(store))
    if follows is not None:
        host.resolver("/basira.v1.AlertService/StopFollow", follow_resolver(follows))
    servicer = AlertServicer(store, engine, replay_limit=settings.open_alert_replay_limit, follows=follows)

    def add(server: grpc.aio.Server) -> list[str]:
        alert_pb2_grpc.add_AlertServiceServicer_to_server(servicer, server)
        return [alert_pb2.DESCRIPTOR.services_by_name["AlertService"].full_name]

    host.build_server(add)


def main() -> int:
    return run_service("alerting", load_settings(AlertingSettings), setup, migrations=MIGRATIONS)
