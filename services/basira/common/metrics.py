"""Prometheus metrics shared by all services, and the /metrics endpoint."""

from __future__ import annotations

import socket

from prometheus_client import Counter, Histogram, start_http_server

RPC_TOTAL = Counter("basira_rpc_total", "RPCs handled, by method and status code.", ["method", "code"])
RPC_SECONDS = Histogram(
    "basira_rpc_seconds", "RPC latency including the gate, by method.", ["method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
GATE_DECISIONS = Counter("basira_gate_decisions_total", "Gate outcomes, by action and outcome.",
                         ["action", "outcome"])
EVENTS_TOTAL = Counter("basira_events_total", "NATS messages handled, by subject prefix and outcome.",
                       ["stream", "outcome"])


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (the caller binds it next)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def start_metrics_server(host: str, port: int) -> int:
    """Serve /metrics on `port` (0 picks a free one); returns the bound port."""
    bound = port or free_port(host)
    start_http_server(bound, addr=host)
    return bound
