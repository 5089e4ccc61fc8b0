"""Face watchlists and their enrolled subjects as plain data, and their validation (pure, no I/O).

A subject keeps its embeddings (tagged with the model that made them: embeddings of different models
never compare), its legal basis, its expiry and the access context it was enrolled under.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from basira.common.errors import InvalidInput
from basira.watchlists.hotlist import MAX_TEXT

MAX_NAME = 200
MAX_IMAGES = 10
"""Images accepted per enrolment: enough views of one person, bounded work per request."""


@dataclass(frozen=True, slots=True)
class Watchlist:
    id: str
    name: str
    owner_agency: str
    description: str
    created: datetime
    subject_count: int = 0


@dataclass(frozen=True, slots=True)
class WatchlistSubject:
    id: str
    watchlist_id: str
    label: str
    legal_kind: str
    legal_reference: str
    legal_issued_by: str
    expires: datetime
    enrolled_images: int
    models: tuple[str, ...] = ()
    """Face models of its enrolment embeddings (it matches only live faces of one of them)."""


@dataclass(frozen=True, slots=True)
class FaceTemplate:
    """One enrolled image's embedding; `model` names the engine and weights that produced it."""

    model: str
    embedding: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class EnrolledFace:
    """One enrolment image of an active subject, with what a candidate of it must carry."""

    subject_id: str
    watchlist_id: str
    owner_agency: str
    label: str
    expires: datetime
    access_pb: bytes
    """basira.v1.AccessContext the subject was enrolled under (purpose, case, authorization)."""
    model: str
    embedding: tuple[float, ...]


def validate_watchlist_name(name: str, field: str = "watchlist.name") -> str:
    value = name.strip()
    if not value:
        raise InvalidInput(f"{field} is required", field=field)
    if len(value) > MAX_NAME:
        raise InvalidInput(f"{field} is {len(value)} characters long, over the limit of {MAX_NAME}",
                           field=field)
    return value


def validate_description(text: str, field: str = "watchlist.description") -> str:
    value = text.strip()
    if len(value) > MAX_TEXT:
        raise InvalidInput(f"{field} is {len(value)} characters long, over the limit of {MAX_TEXT}",
                           field=field)
    return value


def validate_label(label: str, field: str = "label") -> str:
    """The subject's label: a case reference or pseudonym an operator recognises; required."""
    value = label.strip()
    if not value:
        raise InvalidInput(f"{field} is required (a case reference or pseudonym)", field=field)
    if len(value) > MAX_NAME:
        raise InvalidInput(f"{field} is {len(value)} characters long, over the limit of {MAX_NAME}",
                           field=field)
    return value


def validate_image_count(count: int, field: str = "images") -> None:
    if count == 0:
        raise InvalidInput(f"{field}: send at least one face image of the subject", field=field)
    if count > MAX_IMAGES:
        raise InvalidInput(f"{field}: {count} images sent, at most {MAX_IMAGES} per enrolment", field=field)
