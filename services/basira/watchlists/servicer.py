"""WatchlistService: protobuf ⇄ domain for plate hotlists and face watchlists (the gate ran already).

The owning agency of anything created is always the caller's agency from the verified token, never a
field of the request. Lists change → `watchlist.changed` so matchers reload.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol

import grpc
from google.protobuf.message import Message
from nats.js import JetStreamContext

from basira.common import gate
from basira.common.auth import Subject
from basira.common.errors import InvalidInput, NotFound, PermissionDenied, Unauthenticated
from basira.common.gate import ResourceResolver
from basira.v1 import watchlist_pb2, watchlist_pb2_grpc
from basira.watchlists import facelists, hotlist
from basira.watchlists.events import HOTLIST_LIST, Clock, publish_changed, utc_now
from basira.watchlists.facelists import FaceTemplate, Watchlist
from basira.watchlists.protos import (
    datetime_or_none,
    hotlist_entry_pb,
    legal_basis_from_pb,
    subject_pb,
    watchlist_pb,
)
from basira.watchlists.store import WatchlistStore, page_after, page_size

SERVICE_NAME = watchlist_pb2.DESCRIPTOR.services_by_name["WatchlistService"].full_name


class FaceEmbedder(Protocol):
    """Turns one uploaded face image into an embedding (provided by the analytics face engine)."""

    async def embed_image(self, image: bytes, field: str) -> FaceTemplate:
        """The embedding of the one good face; raises InvalidInput naming `field` and why otherwise."""
        ...

    def current_model(self) -> str | None:
        """The model live faces are embedded with now; None while no engine is available."""
        ...


def caller() -> Subject:
    """The verified subject of the current RPC (set by the gate)."""
    subject = gate.current_subject.get()
    if subject is None:
        raise Unauthenticated("no verified caller for this request")
    return subject


class WatchlistServicer(watchlist_pb2_grpc.WatchlistServiceServicer):
    def __init__(self, store: WatchlistStore, js: JetStreamContext, embedder: FaceEmbedder, *,
                 clock: Clock = utc_now) -> None:
        self.store, self.js, self.embedder, self.clock = store, js, embedder, clock

    # -- plate hotlist -----------------------------------------------------------------------

    async def AddHotlistPlate(self, request: watchlist_pb2.AddHotlistPlateRequest,
                              context: grpc.aio.ServicerContext) -> watchlist_pb2.AddHotlistPlateResponse:
        who = caller()
        if not request.HasField("entry"):
            raise InvalidInput("entry is required", field="entry")
        entry, now = request.entry, self.clock()
        new = hotlist.validate_new_entry(
            plate=entry.plate, country=entry.country, reason=int(entry.reason),
            legal_basis=legal_basis_from_pb(entry.legal_basis, entry.HasField("legal_basis")),
            expires=datetime_or_none(entry.expires, entry.HasField("expires")),
            confusable_tolerant=entry.confusable_tolerant, note=entry.note, owner_agency=who.agency, now=now)
        stored = await self.store.add_hotlist_entry(new, created_by=who.user, now=now)
        await publish_changed(self.js, HOTLIST_LIST, now)
        return watchlist_pb2.AddHotlistPlateResponse(entry=hotlist_entry_pb(stored))

    async def RemoveHotlistPlate(self, request: watchlist_pb2.RemoveHotlistPlateRequest,
                                 context: grpc.aio.ServicerContext
                                 ) -> watchlist_pb2.RemoveHotlistPlateResponse:
        who = caller()
        entry_id = hotlist.parse_id(request.entry_id, "entry_id")
        reason = hotlist.validate_removal_reason(request.reason)
        now = self.clock()
        await self.store.remove_hotlist_entry(entry_id, agency=who.agency, removed_by=who.user, reason=reason,
                                              now=now)
        await publish_changed(self.js, HOTLIST_LIST, now)
        return watchlist_pb2.RemoveHotlistPlateResponse()

    async def ListHotlist(self, request: watchlist_pb2.ListHotlistRequest,
                          context: grpc.aio.ServicerContext) -> watchlist_pb2.ListHotlistResponse:
        caller()
        entries, token = await self.store.list_hotlist(
            now=self.clock(), include_expired=request.include_expired,
            after=page_after(request.page.page_token), limit=page_size(request.page.page_size))
        response = watchlist_pb2.ListHotlistResponse(entries=[hotlist_entry_pb(e) for e in entries])
        response.page.next_page_token = token
        return response

    # -- face watchlists ---------------------------------------------------------------------

    async def CreateWatchlist(self, request: watchlist_pb2.CreateWatchlistRequest,
                              context: grpc.aio.ServicerContext) -> watchlist_pb2.CreateWatchlistResponse:
        who = caller()
        if not who.agency:
            raise InvalidInput("the caller has no agency; only agency members may create watchlists",
                               field="watchlist.owner_agency")
        created = await self.store.create_watchlist(
            name=facelists.validate_watchlist_name(request.watchlist.name),
            description=facelists.validate_description(request.watchlist.description),
            owner_agency=who.agency, created_by=who.user, now=self.clock())
        return watchlist_pb2.CreateWatchlistResponse(watchlist=watchlist_pb(created))

    async def ListWatchlists(self, request: watchlist_pb2.ListWatchlistsRequest,
                             context: grpc.aio.ServicerContext) -> watchlist_pb2.ListWatchlistsResponse:
        who = caller()
        lists, token = await self.store.list_watchlists(
            owner_agency=who.agency, now=self.clock(), after=page_after(request.page.page_token),
            limit=page_size(request.page.page_size))
        response = watchlist_pb2.ListWatchlistsResponse(watchlists=[watchlist_pb(w) for w in lists])
        response.page.next_page_token = token
        model = self.embedder.current_model()
        if model and lists:
            ids = [w.id for w in lists]
            stale = await self.store.subjects_without_model(ids, model, self.clock())
            named = await self.store.subjects_to_reenrol(ids, model, self.clock()) if stale else {}
            for message in response.watchlists:
                if stale.get(message.id):
                    message.subjects_not_matching = stale[message.id]
                    message.subjects_to_reenrol.extend(subject_pb(s) for s in named.get(message.id, []))
                    message.not_matching_reason = not_matching_reason(stale[message.id], model)
        return response

    async def _own_watchlist(self, watchlist_id: str, who: Subject) -> Watchlist:
        found = await self.store.get_watchlist(hotlist.parse_id(watchlist_id, "watchlist_id"), self.clock())
        if found.owner_agency != who.agency:
            raise PermissionDenied(f"watchlist {found.id} belongs to {found.owner_agency}; only the owning "
                                   "agency can change it")
        return found

    async def EnrolSubject(self, request: watchlist_pb2.EnrolSubjectRequest,
                           context: grpc.aio.ServicerContext) -> watchlist_pb2.EnrolSubjectResponse:
        who = caller()
        watchlist = await self._own_watchlist(request.watchlist_id, who)
        now = self.clock()
        label = facelists.validate_label(request.label)
        basis = hotlist.validate_legal_basis(
            legal_basis_from_pb(request.legal_basis, request.HasField("legal_basis")), "legal_basis")
        expires = hotlist.validate_expiry(datetime_or_none(request.expires, request.HasField("expires")),
                                          now, "expires")
        facelists.validate_image_count(len(request.images))
        templates = [await self.embedder.embed_image(image, f"images[{i}]")
                     for i, image in enumerate(request.images)]
        subject = await self.store.enrol_subject(
            watchlist_id=hotlist.parse_id(watchlist.id, "watchlist_id"), label=label, legal_basis=basis,
            expires=expires, templates=templates, created_by=who.user, now=now,
            access_pb=request.access.SerializeToString(deterministic=True))
        await publish_changed(self.js, watchlist.id, now)
        return watchlist_pb2.EnrolSubjectResponse(subject=subject_pb(subject))

    async def RemoveSubject(self, request: watchlist_pb2.RemoveSubjectRequest,
                            context: grpc.aio.ServicerContext) -> watchlist_pb2.RemoveSubjectResponse:
        who = caller()
        watchlist = await self._own_watchlist(request.watchlist_id, who)
        subject_id = hotlist.parse_id(request.subject_id, "subject_id")
        reason = hotlist.validate_removal_reason(request.reason)
        now = self.clock()
        await self.store.remove_subject(watchlist_id=hotlist.parse_id(watchlist.id, "watchlist_id"),
                                        subject_id=subject_id, removed_by=who.user, reason=reason, now=now)
        await publish_changed(self.js, watchlist.id, now)
        return watchlist_pb2.RemoveSubjectResponse()


def not_matching_reason(count: int, model: str) -> str:
    """Why a list's subjects raise no candidates after an engine change, and what the operator does."""
    return (f"{count} subject(s) were enrolled only with another face model than the configured engine's "
            f"({model}), and embeddings of different models are never compared: they do not match live "
            "faces. Enrolment photos are not kept, so re-enrol each of `subjects_to_reenrol` from its "
            "photos, then remove the old entry.")


def _rfc3339(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def resource_resolvers(store: WatchlistStore, clock: Clock = utc_now) -> dict[str, ResourceResolver]:
    """Resolvers telling the gate what a request touches beyond its plain fields.

    `entry_expires` (RFC 3339) for requests that create list entries, which the policy checks against
    the authorization's expiry; `owner_agency` for requests on an existing entry or list. A missing or
    malformed value resolves to nothing: the policy or the servicer then refuses the request.
    """

    async def entry_expiry(request: Message, subject: Subject, resource: dict[str, Any]) -> dict[str, Any]:
        entry = request.entry  # type: ignore[attr-defined]
        expires = datetime_or_none(entry.expires, entry.HasField("expires"))
        return {"entry_expires": _rfc3339(expires)} if expires else {}

    async def hotlist_owner(request: Message, subject: Subject, resource: dict[str, Any]) -> dict[str, Any]:
        try:
            entry = await store.get_hotlist_entry(
                hotlist.parse_id(request.entry_id, "entry_id"))  # type: ignore[attr-defined]
        except (InvalidInput, NotFound):
            return {}
        return {"owner_agency": entry.owner_agency}

    async def watchlist_owner(request: Message, subject: Subject, resource: dict[str, Any]) -> dict[str, Any]:
        try:
            found = await store.get_watchlist(
                hotlist.parse_id(request.watchlist_id, "watchlist_id"), clock())  # type: ignore[attr-defined]
        except (InvalidInput, NotFound):
            return {}
        return {"owner_agency": found.owner_agency}

    async def enrolment(request: Message, subject: Subject, resource: dict[str, Any]) -> dict[str, Any]:
        resolved = await watchlist_owner(request, subject, resource)
        expires = datetime_or_none(request.expires, request.HasField("expires"))  # type: ignore[attr-defined]
        if expires:
            resolved["entry_expires"] = _rfc3339(expires)
        return resolved

    return {
        f"/{SERVICE_NAME}/AddHotlistPlate": entry_expiry,
        f"/{SERVICE_NAME}/RemoveHotlistPlate": hotlist_owner,
        f"/{SERVICE_NAME}/EnrolSubject": enrolment,
        f"/{SERVICE_NAME}/RemoveSubject": watchlist_owner,
    }
