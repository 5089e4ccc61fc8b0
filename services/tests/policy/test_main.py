"""The service entry point: serving, printing the revision, and handing the policies to a real OPA."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from basira.common.errors import InvalidInput
from basira.common.policy_client import PolicyClient
from basira.policy.__main__ import main, opa_binary, write_bundle
from basira.policy.config import PolicySettings
from basira.policy.engine import load_policy_dir

from .inputs import example_input


def test_print_revision(policy_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--policy-dir", str(policy_dir), "--print-revision"]) == 0
    assert capsys.readouterr().out.strip() == load_policy_dir(policy_dir).revision


def test_missing_policy_dir_is_a_readable_start_failure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--policy-dir", str(tmp_path / "nope"), "--print-revision"]) == 2
    assert "policy service cannot start" in capsys.readouterr().err


def test_bundle_carries_the_same_revision_and_no_tests(policy_dir: Path, tmp_path: Path) -> None:
    revision = write_bundle(policy_dir, tmp_path)
    manifest = json.loads((tmp_path / ".manifest").read_text())
    assert manifest == {"revision": revision, "roots": ["basira"]}
    assert revision == load_policy_dir(policy_dir).revision
    assert (tmp_path / "basira" / "agencies" / "data.json").exists()
    assert not list(tmp_path.rglob("*_test.rego"))
    assert load_policy_dir(tmp_path).revision == revision


def test_opa_engine_needs_a_binary(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("BASIRA_OPA_BINARY", raising=False)
    with pytest.raises(InvalidInput, match="opa"):
        opa_binary(PolicySettings.model_validate({}))


def test_opa_engine_runs_opa_on_a_bundle(
    monkeypatch: pytest.MonkeyPatch, policy_dir: Path, tmp_path: Path
) -> None:
    record = tmp_path / "record.json"
    fake = tmp_path / "opa"
    fake.write_text(
        f"#!{sys.executable}\n"
        "import json, sys, pathlib\n"
        "bundle = pathlib.Path(sys.argv[sys.argv.index('--bundle') + 1])\n"
        f"pathlib.Path({str(record)!r}).write_text(json.dumps({{'argv': sys.argv[1:],"
        " 'manifest': json.loads((bundle / '.manifest').read_text())}))\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("BASIRA_OPA_BINARY", str(fake))
    assert main(["--policy-dir", str(policy_dir), "--engine", "opa", "--port", "8282"]) == 0
    seen = json.loads(record.read_text())
    assert seen["argv"][:4] == ["run", "--server", "--addr", "127.0.0.1:8282"]
    assert seen["manifest"]["revision"] == load_policy_dir(policy_dir).revision


async def test_module_serves_until_terminated(policy_dir: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "basira.policy", "--policy-dir", str(policy_dir), "--port", "0"],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stderr is not None
        found = None
        seen: list[str] = []
        while found is None and len(seen) < 50:
            line = process.stderr.readline()
            if not line:
                break
            seen.append(line)
            found = re.search(r"http://127\.0\.0\.1:(\d+), revision (\w+)", line)
        assert found, seen
        async with PolicyClient(f"http://127.0.0.1:{found.group(1)}") as client:
            decision = await client.decide(example_input())
        assert decision.allow and decision.revision == found.group(2)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
