"""The service state: data edits as OPA applies them, and nothing published that does not compile."""

from __future__ import annotations

import pytest

from basira.common.errors import InvalidInput, NotFound
from basira.policy.engine import PolicyParseError, PolicySet
from basira.policy.store import PatchOp, PolicyStore, apply_patch, pointer_segments, remove_data, write_data


def test_write_creates_objects_on_the_way_and_copies() -> None:
    original = {"a": {"b": 1}}
    updated = write_data(original, ("a", "c", "d"), [1, 2])
    assert updated == {"a": {"b": 1, "c": {"d": [1, 2]}}}
    assert original == {"a": {"b": 1}}


def test_write_at_the_root_needs_an_object() -> None:
    assert write_data({"a": 1}, (), {"b": 2}) == {"b": 2}
    with pytest.raises(InvalidInput):
        write_data({}, (), [1])


def test_write_through_a_scalar_is_refused() -> None:
    with pytest.raises(NotFound):
        write_data({"a": 1}, ("a", "b", "c"), 2)


def test_remove_missing_document_is_not_found() -> None:
    assert remove_data({"a": {"b": 1, "c": 2}}, ("a", "b")) == {"a": {"c": 2}}
    with pytest.raises(NotFound, match="/a/x"):
        remove_data({"a": {}}, ("a", "x"))


def test_patch_applies_all_operations_relative_to_the_base() -> None:
    operations = [
        PatchOp.parse({"op": "add", "path": "/zones/new", "value": {"name": "New"}}),
        PatchOp.parse({"op": "replace", "path": "/limit", "value": 5}),
        PatchOp.parse({"op": "remove", "path": "/zones/old"}),
    ]
    document = {"cfg": {"limit": 1, "zones": {"old": {}}}}
    assert apply_patch(document, ("cfg",), operations) == {
        "cfg": {"limit": 5, "zones": {"new": {"name": "New"}}}
    }


def test_patch_replace_of_a_missing_document_is_not_found() -> None:
    with pytest.raises(NotFound):
        apply_patch({"cfg": {}}, ("cfg",), [PatchOp.parse({"op": "replace", "path": "/x", "value": 1})])


@pytest.mark.parametrize(
    "raw",
    [[1], {"op": "move", "path": "/a"}, {"op": "add", "path": "a", "value": 1}, {"op": "add", "path": "/a"}],
)
def test_malformed_patch_operations_are_refused(raw: object) -> None:
    with pytest.raises(InvalidInput):
        PatchOp.parse(raw)


def test_json_pointer_unescaping() -> None:
    assert pointer_segments("/a~1b/c~0d") == ("a/b", "c~d")
    assert pointer_segments("") == ()


def test_store_publishes_a_new_revision_per_change(store: PolicyStore) -> None:
    first = store.revision
    store.put_data(("basira", "settings", "default_max_results"), 7)
    second = store.revision
    assert second != first
    assert store.compiled.decide({"action": "x"})["revision"] == second
    store.put_policy("extra/hello.rego", 'package hello\n\nimport rego.v1\n\ngreeting := "salam"\n')
    assert store.revision not in (first, second)
    assert store.evaluate(("hello", "greeting"), with_input=False).value == "salam"
    store.delete_policy("extra/hello.rego")
    assert store.evaluate(("hello", "greeting"), with_input=False).defined is False


def test_module_that_does_not_parse_changes_nothing(store: PolicyStore) -> None:
    before = store.revision
    with pytest.raises(PolicyParseError) as caught:
        store.put_policy("extra/bad.rego", "package bad\n\nimport rego.v1\n\nx := \n")
    assert caught.value.file == "extra/bad.rego"
    assert store.revision == before
    assert "extra/bad.rego" not in store.modules


def test_unknown_policy_is_not_found() -> None:
    store = PolicyStore(PolicySet(modules={}))
    with pytest.raises(NotFound):
        store.get_policy("nope.rego")
    with pytest.raises(NotFound):
        store.delete_policy("nope.rego")
