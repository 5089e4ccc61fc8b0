"""Policy inputs shared by the policy tests."""

from __future__ import annotations

from typing import Any


def example_input(action: str = "search.face", **changes: object) -> dict[str, Any]:
    """A police investigator's face search under a court order, with top-level parts replaced."""
    document: dict[str, Any] = {
        "subject": {"user": "amina", "agency": "police", "roles": ["investigator"], "clearance": 2},
        "action": action,
        "resource": {"zone": "medina", "cameras": ["cam-medina-01"]},
        "context": {
            "purpose": "theft-investigation",
            "case_id": "CASE-2026-0042",
            "time": "2026-03-01T10:00:00Z",
            "authorization": {
                "id": "AUTH-2026-17",
                "issued_by": "court",
                "scope": {"zones": ["medina"], "cameras": []},
                "expires": "2026-04-01T00:00:00Z",
            },
        },
    }
    document.update(changes)
    return document
