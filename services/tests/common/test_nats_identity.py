"""Each service's NATS permissions follow from the stream declarations, and nothing more."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from basira.common.errors import ConfigError
from basira.common.nats import GATED_SERVICES, STREAMS, Credentials
from basira.common.nats_identity import OPERATOR, authorization_block, ensure_credentials, service_permissions


def allowed(service: str, kind: str) -> set[str]:
    return set(service_permissions(service)[kind]["allow"])


def test_only_ingest_publishes_frames_and_camera_health() -> None:
    writers = {s for s in GATED_SERVICES if "frames.>" in allowed(s, "publish")}
    assert writers == {"ingest"}
    assert {s for s in GATED_SERVICES if "camera.health.>" in allowed(s, "publish")} == {"ingest"}


def test_only_alerting_publishes_alerts_and_only_analytics_match_candidates() -> None:
    assert {s for s in GATED_SERVICES if "alerts.>" in allowed(s, "publish")} == {"alerting"}
    assert {s for s in GATED_SERVICES if "match.candidate.>" in allowed(s, "publish")} == {"analytics"}


def test_each_service_writes_only_its_own_access_records() -> None:
    for service in GATED_SERVICES:
        records = {p for p in allowed(service, "publish") if p.startswith("audit.record.")}
        assert records == {f"audit.record.{service}"}


def test_only_audit_consumes_the_access_log_and_signs_tree_heads() -> None:
    readers = {s for s in GATED_SERVICES if "$JS.API.CONSUMER.MSG.NEXT.AUDIT.>" in allowed(s, "publish")}
    assert readers == {"audit"}
    assert {s for s in GATED_SERVICES if "audit.sth" in allowed(s, "publish")} == {"audit"}
    assert {s for s in GATED_SERVICES if "audit.record.>" in allowed(s, "subscribe")} == {"audit"}


def test_no_service_may_manage_streams_or_read_a_shared_inbox() -> None:
    for service in GATED_SERVICES:
        publish, subscribe = allowed(service, "publish"), allowed(service, "subscribe")
        assert not [p for p in publish if p.startswith("$JS.API.STREAM.")
                    and not p.startswith(("$JS.API.STREAM.INFO.", "$JS.API.STREAM.MSG.GET."))]
        assert not any(p == ">" or p.startswith("$JS.API.>") for p in publish)
        assert f"_INBOX_{service}.>" in subscribe
        assert not any(p.startswith("_INBOX.") or p == ">" for p in subscribe)


def test_an_undeclared_service_gets_no_identity() -> None:
    with pytest.raises(ConfigError, match="no stream declares 'serach'"):
        service_permissions("serach")


def test_the_access_log_stream_is_sealed() -> None:
    [audit] = [s for s in STREAMS if s.name == "AUDIT"]
    config = audit.config()
    assert config.deny_delete and config.deny_purge and not config.allow_rollup_hdrs


def test_credentials_are_made_once_readable_by_their_owner_only(tmp_path: Path) -> None:
    first = ensure_credentials(tmp_path / "ids", "search")
    password = Credentials.load(first).password
    assert stat.S_IMODE(first.stat().st_mode) == 0o600
    assert Credentials.load(ensure_credentials(tmp_path / "ids", "search")).password == password
    assert len(password) >= 32


def test_the_authorization_block_leaves_only_the_operator_unrestricted(tmp_path: Path) -> None:
    paths = {name: ensure_credentials(tmp_path, name) for name in (OPERATOR, "ingest")}
    block = authorization_block(paths)
    users = {u["user"]: u for u in json.loads(block.removeprefix("authorization: "))["users"]}
    assert "permissions" not in users[OPERATOR]
    assert users["ingest"]["permissions"] == service_permissions("ingest")


def test_the_production_command_prints_a_block_with_every_identity(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from basira.common.nats_identity import main

    assert main([str(tmp_path / "ids")]) == 0
    users = json.loads(capsys.readouterr().out.removeprefix("authorization: "))["users"]
    assert {u["user"] for u in users} == {OPERATOR, *GATED_SERVICES}


def test_search_reads_alerts_to_hold_confirmed_face_matches_but_never_publishes_them() -> None:
    readers = {s for s in GATED_SERVICES if "$JS.API.CONSUMER.MSG.NEXT.ALERTS.>" in allowed(s, "publish")}
    assert readers == {"alerting", "search"}
    assert "alerts.>" not in allowed("search", "publish")
