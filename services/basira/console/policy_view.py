"""The Policy page and the escalation picker: the policy bundle the platform runs, read-only.

The agreement (agencies, zones, purposes, retention, roles, actions, data classes) is the public
rulebook of the platform, not data about people; any signed-in person may read it. The Rego tests
run once per policy revision, in a worker thread, and their result is cached.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

from aiohttp import web

from basira.console.context import console_of
from basira.console.wire import json_answer

log = logging.getLogger(__name__)

AGREEMENT_PARTS = ("agencies", "zones", "cameras", "purposes", "retention", "roles", "actions",
                   "data_classes", "settings")
_TESTS: dict[str, dict[str, Any] | None] = {}


def agreement(policy_dir: Path) -> dict[str, Any]:
    """The policy data documents by name (`policy/basira/<name>/data.json`)."""
    parts: dict[str, Any] = {}
    for name in AGREEMENT_PARTS:
        path = policy_dir / "basira" / name / "data.json"
        try:
            parts[name] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            parts[name] = {}
    return parts


def revision(policy_dir: Path) -> str:
    from basira.policy.engine import load_policy_dir

    return str(load_policy_dir(policy_dir).revision)


def test_summary(policy_dir: Path) -> dict[str, Any]:
    """Rego test outcomes and rule coverage of the bundle (what `make policy-test` prints)."""
    from basira.policy.testing import run_policy_tests

    report = run_policy_tests(policy_dir)
    return {
        "passed": len(report.outcomes) - len(report.failures), "failed": len(report.failures),
        "failures": [f"{o.label}: {o.detail}" for o in report.failures],
        "coverage": {"covered": len(report.coverage) - len(report.uncovered), "total": len(report.coverage)},
        "uncovered": [f"{c.rule.module}:{c.rule.first_line} {c.rule.name}" for c in report.uncovered],
    }


async def policy(request: web.Request) -> web.Response:
    console = console_of(request)
    console.signed_in(request)
    policy_dir = console.settings.policy_dir
    current = await asyncio.to_thread(revision, policy_dir)
    if current not in _TESTS:
        try:
            _TESTS[current] = await asyncio.to_thread(test_summary, policy_dir)
        except Exception:
            log.exception("policy tests could not run")
            _TESTS[current] = None
    return json_answer({"revision": current, "agreement": agreement(policy_dir), "tests": _TESTS[current]})


async def agencies(request: web.Request) -> web.Response:
    console = console_of(request)
    console.signed_in(request)
    parts = agreement(console.settings.policy_dir)["agencies"]
    return json_answer({"agencies": [{"id": name, "name": str(spec.get("name", name))}
                                     for name, spec in sorted(parts.items()) if isinstance(spec, dict)]})


def routes() -> list[web.RouteDef]:
    return [web.get("/api/policy", policy), web.get("/api/agencies", agencies)]
