"""Fixtures for the identity tests: the repository's realm file and a running issuer."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from basira.identity import DEFAULT_REALM_FILE, IssuerApp, issuer_in_thread

README = DEFAULT_REALM_FILE.parent / "README.md"


def realm_json() -> dict[str, Any]:
    return json.loads(DEFAULT_REALM_FILE.read_text(encoding="utf-8"))


def client_secret(client_id: str) -> str:
    return next(str(c["secret"]) for c in realm_json()["clients"] if c["clientId"] == client_id)


def documented_users() -> dict[str, dict[str, str]]:
    """The development users table of infra/keycloak/README.md, by username."""
    rows: dict[str, dict[str, str]] = {}
    for line in README.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and re.fullmatch(r"`[^`]+-dev-password`", cells[4]):
            rows[cells[0]] = {"agency": cells[1], "roles": cells[2], "clearance": cells[3],
                              "password": cells[4].strip("`")}
    return rows


@pytest.fixture
def issuer(tmp_path: Path) -> Iterator[IssuerApp]:
    """A dev issuer on a random loopback port, in its own thread (python-keycloak's client blocks)."""
    with issuer_in_thread(DEFAULT_REALM_FILE, tmp_path) as app:
        yield app
