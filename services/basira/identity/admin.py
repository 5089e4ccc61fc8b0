"""The slice of Keycloak's admin REST API that python-keycloak's KeycloakAdmin uses for users and roles.

Callers need a bearer token from this realm whose `resource_access.realm-management.roles` grant the
act (view-users / manage-users / view-realm, or realm-admin), exactly as on a real Keycloak.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from basira.common.errors import AlreadyExists, BasiraError, InvalidInput, NotFound
from basira.identity.oidc import bearer, state_for
from basira.identity.realm import REALM_MANAGEMENT, User, expand_client_roles
from basira.identity.state import IssuerState, TokenRejected

READ_USERS = frozenset({"view-users", "manage-users", "query-users"})
WRITE_USERS = frozenset({"manage-users"})
READ_ROLES = frozenset({"view-realm", "manage-realm", "view-users", "manage-users"})

Handler = Callable[[web.Request, IssuerState], Awaitable[web.StreamResponse]]
Route = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _fail(status: int, error: str, description: str = "") -> web.Response:
    body = {"error": error}
    if description:
        body["error_description"] = description
    return web.json_response(body, status=status)


def guarded(needs: frozenset[str]) -> Callable[[Handler], Route]:
    """Wrap an admin handler: check the bearer token and its realm-management roles; map errors."""

    def wrap(handler: Handler) -> Route:
        async def run(request: web.Request) -> web.StreamResponse:
            state = state_for(request)
            raw = bearer(request)
            if raw is None:
                return _fail(401, "HTTP 401 Unauthorized", "bearer token required")
            try:
                claims = state.verify_own(raw, "Bearer")
            except TokenRejected as e:
                return _fail(401, "HTTP 401 Unauthorized", str(e))
            held = set(((claims.get("resource_access") or {}).get(REALM_MANAGEMENT) or {}).get("roles", []))
            held.update(expand_client_roles({REALM_MANAGEMENT: tuple(held)}).get(REALM_MANAGEMENT, []))
            if not held & needs:
                return _fail(403, "HTTP 403 Forbidden",
                             f"needs one of the {REALM_MANAGEMENT} roles {sorted(needs)}")
            try:
                return await handler(request, state)
            except NotFound as e:
                return web.json_response({"error": e.message}, status=404)
            except AlreadyExists as e:
                return web.json_response({"errorMessage": e.message}, status=409)
            except (InvalidInput, BasiraError) as e:
                return web.json_response({"errorMessage": e.message}, status=400)

        return run

    return wrap


async def _json(request: web.Request) -> Any:
    try:
        return json.loads(await request.text() or "null")
    except ValueError as e:
        raise InvalidInput(f"body is not JSON: {e}") from e


def _flag(value: str | None) -> bool | None:
    return None if value is None else value.strip().lower() == "true"


def _matches(user: User, query: Any) -> bool:
    exact = _flag(query.get("exact")) or False

    def field_ok(value: str, wanted: str | None) -> bool:
        if wanted is None:
            return True
        v, w = value.lower(), wanted.lower()
        return v == w if exact else w in v

    if not (field_ok(user.username, query.get("username")) and field_ok(user.email, query.get("email"))
            and field_ok(user.first_name, query.get("firstName"))
            and field_ok(user.last_name, query.get("lastName"))):
        return False
    search = (query.get("search") or "").strip().strip("*").lower()
    if search and not any(search in v.lower() for v in (user.username, user.email, user.first_name,
                                                         user.last_name)):
        return False
    enabled = _flag(query.get("enabled"))
    if enabled is not None and user.enabled != enabled:
        return False
    for pair in (query.get("q") or "").split():
        key, _, value = pair.partition(":")
        if value not in user.attributes.get(key, []):
            return False
    return True


def _page(items: list[Any], query: Any) -> list[Any]:
    try:
        first = max(0, int(query.get("first", 0)))
        size = int(query.get("max", 100))
    except ValueError as e:
        raise InvalidInput(f"first/max must be integers: {e}") from e
    return items[first:] if size < 0 else items[first:first + size]


def _role_reps(state: IssuerState, names: list[str] | tuple[str, ...]) -> list[dict[str, Any]]:
    return [state.realm.roles[n].to_representation(state.realm.id) for n in names if n in state.realm.roles]


def _role_names(state: IssuerState, body: Any) -> list[str]:
    """Role names from a list of RoleRepresentations (matched by name, else by id)."""
    if not isinstance(body, list):
        raise InvalidInput("expected a JSON list of roles")
    by_id = {r.id: r.name for r in state.realm.roles.values()}
    names = []
    for rep in body:
        name = rep.get("name") if isinstance(rep, dict) else None
        if name not in state.realm.roles:
            name = by_id.get(str(rep.get("id"))) if isinstance(rep, dict) else None
        if name is None:
            raise NotFound("Role not found")
        names.append(name)
    return names


def _user(state: IssuerState, request: web.Request) -> User:
    user = state.store.get(request.match_info["id"])
    if user is None:
        raise NotFound("User not found")
    return user


@guarded(READ_USERS)
async def list_users(request: web.Request, state: IssuerState) -> web.StreamResponse:
    users = [u for u in state.store.all() if _matches(u, request.query)]
    return web.json_response([u.to_representation() for u in _page(users, request.query)])


@guarded(READ_USERS)
async def count_users(request: web.Request, state: IssuerState) -> web.StreamResponse:
    return web.json_response(sum(1 for u in state.store.all() if _matches(u, request.query)))


@guarded(WRITE_USERS)
async def create_user(request: web.Request, state: IssuerState) -> web.StreamResponse:
    body = await _json(request)
    if not isinstance(body, dict):
        raise InvalidInput("expected a UserRepresentation object")
    user = state.store.create(body)
    location = f"{state.base_url}/admin/realms/{state.realm.name}/users/{user.id}"
    return web.Response(status=201, headers={"Location": location})


@guarded(READ_USERS)
async def get_user(request: web.Request, state: IssuerState) -> web.StreamResponse:
    return web.json_response(_user(state, request).to_representation())


@guarded(WRITE_USERS)
async def update_user(request: web.Request, state: IssuerState) -> web.StreamResponse:
    body = await _json(request)
    if not isinstance(body, dict):
        raise InvalidInput("expected a UserRepresentation object")
    state.store.update(request.match_info["id"], body)
    return web.Response(status=204)


@guarded(WRITE_USERS)
async def delete_user(request: web.Request, state: IssuerState) -> web.StreamResponse:
    state.store.delete(request.match_info["id"])
    return web.Response(status=204)


@guarded(WRITE_USERS)
async def reset_password(request: web.Request, state: IssuerState) -> web.StreamResponse:
    body = await _json(request)
    if not isinstance(body, dict) or body.get("type", "password") != "password":
        raise InvalidInput("expected a password CredentialRepresentation")
    state.store.set_password(request.match_info["id"], str(body.get("value") or ""),
                             bool(body.get("temporary", False)))
    return web.Response(status=204)


@guarded(READ_USERS)
async def user_role_mappings(request: web.Request, state: IssuerState) -> web.StreamResponse:
    return web.json_response({"realmMappings": _role_reps(state, _user(state, request).realm_roles)})


@guarded(READ_USERS)
async def user_realm_roles(request: web.Request, state: IssuerState) -> web.StreamResponse:
    return web.json_response(_role_reps(state, _user(state, request).realm_roles))


@guarded(READ_USERS)
async def user_realm_roles_composite(request: web.Request, state: IssuerState) -> web.StreamResponse:
    return web.json_response(_role_reps(state, state.realm.expand_realm_roles(
        _user(state, request).realm_roles)))


@guarded(READ_USERS)
async def user_realm_roles_available(request: web.Request, state: IssuerState) -> web.StreamResponse:
    held = set(_user(state, request).realm_roles)
    return web.json_response(_role_reps(state, [n for n in sorted(state.realm.roles) if n not in held]))


@guarded(WRITE_USERS)
async def add_user_realm_roles(request: web.Request, state: IssuerState) -> web.StreamResponse:
    state.store.add_realm_roles(request.match_info["id"], _role_names(state, await _json(request)))
    return web.Response(status=204)


@guarded(WRITE_USERS)
async def remove_user_realm_roles(request: web.Request, state: IssuerState) -> web.StreamResponse:
    state.store.remove_realm_roles(request.match_info["id"], _role_names(state, await _json(request)))
    return web.Response(status=204)


@guarded(READ_ROLES)
async def list_roles(request: web.Request, state: IssuerState) -> web.StreamResponse:
    search = (request.query.get("search") or "").lower()
    names = [n for n in sorted(state.realm.roles) if search in n.lower()]
    return web.json_response(_page(_role_reps(state, names), request.query))


@guarded(READ_ROLES)
async def get_role(request: web.Request, state: IssuerState) -> web.StreamResponse:
    name = request.match_info["role"]
    if name not in state.realm.roles:
        raise NotFound("Could not find role")
    return web.json_response(_role_reps(state, [name])[0])


@guarded(READ_USERS)
async def role_members(request: web.Request, state: IssuerState) -> web.StreamResponse:
    name = request.match_info["role"]
    if name not in state.realm.roles:
        raise NotFound("Could not find role")
    members = [u.to_representation() for u in state.store.all() if name in u.realm_roles]
    return web.json_response(_page(members, request.query))


def routes(prefix: str = "/admin/realms/{realm}") -> list[web.RouteDef]:
    u = f"{prefix}/users/{{id}}"
    return [
        web.get(f"{prefix}/users", list_users, name="admin.users"),
        web.post(f"{prefix}/users", create_user, name="admin.users.create"),
        web.get(f"{prefix}/users/count", count_users, name="admin.users.count"),
        web.get(u, get_user, name="admin.user"),
        web.put(u, update_user, name="admin.user.update"),
        web.delete(u, delete_user, name="admin.user.delete"),
        web.put(f"{u}/reset-password", reset_password, name="admin.user.password"),
        web.get(f"{u}/role-mappings", user_role_mappings, name="admin.user.roles"),
        web.get(f"{u}/role-mappings/realm", user_realm_roles, name="admin.user.realm_roles"),
        web.post(f"{u}/role-mappings/realm", add_user_realm_roles, name="admin.user.realm_roles.add"),
        web.delete(f"{u}/role-mappings/realm", remove_user_realm_roles,
                   name="admin.user.realm_roles.remove"),
        web.get(f"{u}/role-mappings/realm/composite", user_realm_roles_composite,
                name="admin.user.realm_roles.composite"),
        web.get(f"{u}/role-mappings/realm/available", user_realm_roles_available,
                name="admin.user.realm_roles.available"),
        web.get(f"{prefix}/roles", list_roles, name="admin.roles"),
        web.get(f"{prefix}/roles/{{role}}", get_role, name="admin.role"),
        web.get(f"{prefix}/roles/{{role}}/users", role_members, name="admin.role.users"),
    ]
