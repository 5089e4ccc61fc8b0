"""Watchlist and hotlist endpoints: forwarded to WatchlistService as the signed-in person.

Face enrolment's errors (no face found, image too large, ...) come from the face pipeline and pass
through as problems; no face logic lives here.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from basira.console.context import console_of
from basira.console.problems import Problem, bad_request
from basira.console.wire import (
    access_context,
    boolean,
    enum_value,
    form_context,
    form_fields,
    form_files,
    json_answer,
    json_body,
    message_json,
    set_time,
    text,
)
from basira.v1 import watchlist_pb2


def _legal_basis(value: Any, field: str = "legal_basis") -> watchlist_pb2.LegalBasis:
    if value in (None, ""):
        return watchlist_pb2.LegalBasis()
    if not isinstance(value, dict):
        raise bad_request(f"{field} must be an object {{kind, reference, issued_by}}", field)
    return watchlist_pb2.LegalBasis(kind=text(value, "kind", max_len=100),
                                    reference=text(value, "reference", max_len=200),
                                    issued_by=text(value, "issued_by", max_len=200))


async def list_hotlist(request: web.Request) -> web.Response:
    console = console_of(request)
    stub = console.backends.watchlists
    message = watchlist_pb2.ListHotlistRequest(
        include_expired=boolean(request.query, "include_expired", True),
        page={"page_size": 1000, "page_token": request.query.get("page_token", "")})
    reply = await console.call(request, stub.ListHotlist, message)
    return json_answer({"entries": [message_json(e) for e in reply.entries],
                        "next_page_token": reply.page.next_page_token})


async def add_hotlist_plate(request: web.Request) -> web.Response:
    console = console_of(request)
    stub = console.backends.watchlists
    body = await json_body(request)
    entry = watchlist_pb2.HotlistEntry(
        plate=text(body, "plate", required=True, max_len=32), country=text(body, "country", max_len=2),
        reason=enum_value(watchlist_pb2.HotlistReason.DESCRIPTOR, body.get("reason"), "reason",  # type: ignore[arg-type]
                          "HOTLIST_REASON"),
        legal_basis=_legal_basis(body.get("legal_basis")),
        confusable_tolerant=boolean(body, "confusable_tolerant", True), note=text(body, "note", max_len=1000))
    set_time(entry.expires, body.get("expires"), "expires")
    reply = await console.call(request, stub.AddHotlistPlate, watchlist_pb2.AddHotlistPlateRequest(
        entry=entry, access=access_context(body.get("context"))))
    return json_answer({"entry": message_json(reply.entry)}, status=201)


async def remove_hotlist_plate(request: web.Request) -> web.Response:
    console = console_of(request)
    stub = console.backends.watchlists
    body = await json_body(request)
    await console.call(request, stub.RemoveHotlistPlate, watchlist_pb2.RemoveHotlistPlateRequest(
        entry_id=request.match_info["entry_id"], reason=text(body, "reason", max_len=1000),
        access=access_context(body.get("context"))))
    return web.Response(status=204, headers={"Cache-Control": "no-store"})


async def list_watchlists(request: web.Request) -> web.Response:
    console = console_of(request)
    stub = console.backends.watchlists
    reply = await console.call(request, stub.ListWatchlists, watchlist_pb2.ListWatchlistsRequest(
        page={"page_size": 1000, "page_token": request.query.get("page_token", "")}))
    return json_answer({"watchlists": [message_json(w) for w in reply.watchlists],
                        "next_page_token": reply.page.next_page_token})


async def create_watchlist(request: web.Request) -> web.Response:
    console = console_of(request)
    stub = console.backends.watchlists
    body = await json_body(request)
    watchlist = watchlist_pb2.Watchlist(name=text(body, "name", required=True, max_len=200),
                                        description=text(body, "description", max_len=2000))
    reply = await console.call(request, stub.CreateWatchlist, watchlist_pb2.CreateWatchlistRequest(
        watchlist=watchlist, access=access_context(body.get("context"))))
    return json_answer({"watchlist": message_json(reply.watchlist)}, status=201)


async def enrol_subject(request: web.Request) -> web.Response:
    console = console_of(request)
    stub = console.backends.watchlists
    if not request.content_type.startswith("multipart/"):
        raise bad_request("send the subject as multipart/form-data (images in field `images`)", "images")
    form = await request.post()
    fields = form_fields(form)
    images = form_files(form, "images")
    if not images:
        raise bad_request("at least one face image is needed in field `images`", "images")
    message = watchlist_pb2.EnrolSubjectRequest(
        watchlist_id=request.match_info["watchlist_id"],
        label=text(fields, "label", required=True, max_len=200),
        legal_basis=watchlist_pb2.LegalBasis(kind=text(fields, "legal_basis_kind", max_len=100),
                                             reference=text(fields, "legal_basis_reference", max_len=200),
                                             issued_by=text(fields, "legal_basis_issued_by", max_len=200)),
        images=images, access=form_context(form))
    set_time(message.expires, fields.get("expires"), "expires")
    reply = await console.call(request, stub.EnrolSubject, message)
    return json_answer({"subject": message_json(reply.subject)}, status=201)


async def remove_subject(request: web.Request) -> web.Response:
    console = console_of(request)
    stub = console.backends.watchlists
    body = await json_body(request)
    await console.call(request, stub.RemoveSubject, watchlist_pb2.RemoveSubjectRequest(
        watchlist_id=request.match_info["watchlist_id"], subject_id=request.match_info["subject_id"],
        reason=text(body, "reason", max_len=1000), access=access_context(body.get("context"))))
    return web.Response(status=204, headers={"Cache-Control": "no-store"})


async def list_subjects(request: web.Request) -> web.Response:
    console_of(request).signed_in(request)
    raise Problem(501, "unimplemented", "Not implemented",
                  "listing a watchlist's subjects needs a ListSubjects RPC in the watchlist contract")


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/hotlist", list_hotlist),
        web.post("/api/hotlist", add_hotlist_plate),
        web.delete("/api/hotlist/{entry_id}", remove_hotlist_plate),
        web.get("/api/watchlists", list_watchlists),
        web.post("/api/watchlists", create_watchlist),
        web.get("/api/watchlists/{watchlist_id}/subjects", list_subjects),
        web.post("/api/watchlists/{watchlist_id}/subjects", enrol_subject),
        web.delete("/api/watchlists/{watchlist_id}/subjects/{subject_id}", remove_subject),
    ]
