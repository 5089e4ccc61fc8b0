"""The REST API on a real aiohttp server on loopback, driven through opa-python-client."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from opa_client import AsyncOpaClient
from opa_client.errors import DeletePolicyError, PolicyNotFoundError, RegoParseError

from basira.policy.store import PolicyStore

from .inputs import example_input

Server = tuple[str, int, PolicyStore]


async def http(method: str, url: str, **options: Any) -> tuple[int, Any]:
    """One plain HTTP request: (status, JSON body or None)."""
    async with aiohttp.ClientSession() as session, session.request(method, url, **options) as response:
        body = await response.json() if response.content_type == "application/json" else None
        return response.status, body


HELLO = 'package hello\n\nimport rego.v1\n\ngreeting := sprintf("%v, %v", [input.greeting, input.name])\n'


async def test_health(server: Server) -> None:
    host, port, _ = server
    async with AsyncOpaClient(host=host, port=port) as client:
        assert await client.check_health() is True
        assert await client.check_connection() is True


async def test_policies_list_and_info(server: Server) -> None:
    host, port, store = server
    async with AsyncOpaClient(host=host, port=port) as client:
        ids = await client.get_policies_list()
        assert sorted(ids) == sorted(store.modules)
        info = await client.get_policies_info()
        authz = info["basira/authz/authz.rego"]
        assert authz["path"].endswith("/v1/data/basira/authz")
        assert authz["path"] + "/decision" in authz["rules"]


async def test_policy_create_read_query_delete(server: Server) -> None:
    host, port, store = server
    before = store.revision
    async with AsyncOpaClient(host=host, port=port) as client:
        assert await client.update_policy_from_string(HELLO, "extra/hello.rego") is True
        assert store.revision != before
        policy = await client.get_policy("extra/hello.rego")
        assert policy["result"]["raw"] == HELLO
        assert policy["result"]["id"] == "extra/hello.rego"
        answer = await client.query_rule({"greeting": "salam", "name": "amina"}, "hello", "greeting")
        assert answer["result"] == "salam, amina"
        assert await client.delete_policy("extra/hello.rego") is True
        with pytest.raises(PolicyNotFoundError):
            await client.get_policy("extra/hello.rego")
        with pytest.raises(DeletePolicyError):
            await client.delete_policy("extra/hello.rego")
    assert store.revision == before


async def test_policy_parse_error_is_400_with_location(server: Server) -> None:
    host, port, store = server
    before = store.revision
    broken = "package broken\n\nimport rego.v1\n\nallow if {\n\tinput.a ==\n}\n"
    async with AsyncOpaClient(host=host, port=port) as client:
        with pytest.raises(RegoParseError) as caught:
            await client.update_policy_from_string(broken, "broken.rego")
    assert caught.value.expression == "invalid_parameter"
    [error] = caught.value.errors
    assert error["code"] == "rego_parse_error"
    assert error["location"] == {"file": "broken.rego", "row": 7, "col": 1}
    assert store.revision == before
    status, body = await http("PUT", f"http://{host}:{port}/v1/policies/broken.rego", data=broken)
    assert status == 400
    assert body["message"] == "error(s) occurred while compiling module(s)"


async def test_data_put_get_patch_delete(server: Server) -> None:
    host, port, store = server
    async with AsyncOpaClient(host=host, port=port) as client:
        assert await client.update_or_create_data({"limit": 3, "zones": ["medina"]}, "extra/config") is True
        assert (await client.get_data("extra/config"))["result"] == {"limit": 3, "zones": ["medina"]}
        patch = [
            {"op": "replace", "path": "/limit", "value": 4},
            {"op": "add", "path": "/owner", "value": "dpa"},
        ]
        assert await client.patch_data("extra/config", patch) is True
        assert (await client.get_data("extra/config/limit"))["result"] == 4
        assert await client.delete_data("extra/config") is True
        with pytest.raises(PolicyNotFoundError):
            await client.get_data("extra/config")
    assert "extra" in store.data and "config" not in store.data["extra"]


async def test_data_edit_reaches_decisions(server: Server) -> None:
    """Policy data is edited at run time (e.g. a privacy officer shortens a limit): new revision."""
    host, port, store = server
    async with AsyncOpaClient(host=host, port=port) as client:
        first = (await client.query_rule(example_input(), "basira.authz", "decision"))["result"]
        assert first["obligations"]["max_results"] == 20
        await client.update_or_create_data(
            {"data_classes": ["biometric"], "scope": "zones", "max_results": 5}, "basira/actions/search.face"
        )
        second = (await client.query_rule(example_input(), "basira.authz", "decision"))["result"]
    assert second["obligations"]["max_results"] == 5
    assert second["revision"] == store.revision != first["revision"]


async def test_decision_with_provenance_and_metrics(server: Server) -> None:
    host, port, store = server
    async with AsyncOpaClient(host=host, port=port) as client:
        answer = await client.query_rule(
            example_input(),
            "basira.authz",
            "decision",
            query_params={"provenance": "true", "metrics": "true"},
        )
    assert answer["result"]["allow"] is True
    assert answer["result"]["revision"] == store.revision
    assert answer["provenance"]["bundles"] == {"basira": {"revision": store.revision}}
    assert answer["metrics"]["timer_rego_query_eval_ns"] > 0
    assert answer["decision_id"]


async def test_denied_decision_lists_reasons(server: Server) -> None:
    host, port, _ = server
    traffic = {"user": "hamza", "agency": "traffic", "roles": ["investigator"], "clearance": 2}
    async with AsyncOpaClient(host=host, port=port) as client:
        answer = await client.query_rule(example_input(subject=traffic), "basira.authz", "decision")
    assert answer["result"]["allow"] is False
    assert 'agency "traffic" is not granted data class "biometric"' in answer["result"]["deny"]


async def test_undefined_path_has_no_result(server: Server) -> None:
    host, port, _ = server
    status, body = await http("POST", f"http://{host}:{port}/v1/data/nothing/here", json={"input": {}})
    assert status == 200
    assert "result" not in body


async def test_evaluation_error_is_500_in_opa_shape(server: Server) -> None:
    host, port, _ = server
    bad = example_input(context={**example_input()["context"], "time": "yesterday"})
    status, body = await http(
        "POST", f"http://{host}:{port}/v1/data/basira/authz/decision", json={"input": bad}
    )
    assert status == 500
    assert body["code"] == "internal_error"


async def test_malformed_body_is_400(server: Server) -> None:
    host, port, _ = server
    status, body = await http("POST", f"http://{host}:{port}/v1/data/basira", data="{nope")
    assert (status, body["code"]) == (400, "invalid_parameter")
    status, _ = await http("PUT", f"http://{host}:{port}/v1/data/basira/settings", data="{nope")
    assert status == 400


async def test_put_data_if_none_match_keeps_existing(server: Server) -> None:
    host, port, store = server
    url = f"http://{host}:{port}/v1/data/basira/settings"
    status, _ = await http("PUT", url, json={}, headers={"If-None-Match": "*"})
    assert status == 304
    assert store.data["basira"]["settings"]["default_max_results"] == 100


async def test_ad_hoc_query(server: Server) -> None:
    host, port, _ = server
    async with AsyncOpaClient(host=host, port=port) as client:
        answer = await client.ad_hoc_query('x := data.basira.cameras["cam-port-01"].zone')
        assert answer["result"] == [{"x": "port"}]
        many = await client.bulk_query_rule(
            [example_input(), example_input(action="nope")], "basira.authz", "allow"
        )
    assert many == [True, False]


async def test_metrics_page(server: Server) -> None:
    host, port, _ = server
    async with AsyncOpaClient(host=host, port=port) as client:
        await client.query_rule(example_input(), "basira.authz", "decision")
        text = await client.get_metrics()
    assert 'basira_policy_queries_total{outcome="defined"}' in text
