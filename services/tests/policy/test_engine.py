"""The embedded engine: loading, compile-once, parse error locations, revisions, evaluation."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from basira.common.errors import InvalidInput
from basira.policy import engine as engine_module
from basira.policy.engine import (
    DECISION_PATH,
    CompiledPolicy,
    PolicyEvalError,
    PolicyParseError,
    PolicySet,
    compute_revision,
    load_policy_dir,
    query_for,
)

from .inputs import example_input


def test_load_maps_data_files_to_their_directory_path(policy_dir: Path) -> None:
    policy_set = load_policy_dir(policy_dir)
    assert policy_set.data["basira"]["agencies"]["police"]["kind"] == "law_enforcement"
    assert policy_set.data["basira"]["cameras"]["cam-port-01"] == {"zone": "port"}
    assert "basira/authz/authz.rego" in policy_set.modules


def test_load_leaves_tests_out_unless_asked(policy_dir: Path) -> None:
    served = load_policy_dir(policy_dir)
    everything = load_policy_dir(policy_dir, include_tests=True)
    assert not any(name.endswith("_test.rego") for name in served.modules)
    assert "basira/authz/authz_test.rego" in everything.modules
    assert served.revision != everything.revision


def test_compiles_once_per_revision_and_evaluates_many(
    monkeypatch: pytest.MonkeyPatch, policy_dir: Path
) -> None:
    parses: list[int] = []
    real_parse = engine_module.parse_modules

    def counting_parse(modules: Any) -> Any:
        parses.append(len(modules))
        return real_parse(modules)

    monkeypatch.setattr(engine_module, "parse_modules", counting_parse)
    compiled = CompiledPolicy(load_policy_dir(policy_dir))
    assert len(parses) == 1
    for _ in range(25):
        assert compiled.decide(example_input())["allow"] is True
    assert compiled.decide(example_input(action="search.everything"))["allow"] is False
    assert len(parses) == 1


def test_another_thread_gets_its_own_engine_and_the_same_answer(policy_dir: Path) -> None:
    compiled = CompiledPolicy(load_policy_dir(policy_dir))
    here = compiled.decide(example_input())
    there: list[Any] = []
    worker = threading.Thread(target=lambda: there.append(compiled.decide(example_input())))
    worker.start()
    worker.join()
    assert there == [here]


def test_decision_carries_the_revision_it_was_taken_under(policy_dir: Path) -> None:
    compiled = CompiledPolicy(load_policy_dir(policy_dir))
    decision = compiled.decide(example_input())
    assert decision["revision"] == compiled.revision
    assert len(compiled.revision) == 16
    int(compiled.revision, 16)


def test_parse_error_names_file_row_and_column() -> None:
    broken = "package broken\n\nimport rego.v1\n\nallow if {\n\tinput.a ==\n}\n"
    with pytest.raises(PolicyParseError) as caught:
        CompiledPolicy(PolicySet(modules={"ok.rego": "package ok\n", "bad/broken.rego": broken}))
    error = caught.value
    assert (error.file, error.row, error.col) == ("bad/broken.rego", 7, 1)
    assert str(error).startswith("bad/broken.rego:7:1: ")
    assert "Stack backtrace" not in str(error)


def test_data_file_that_is_not_json_names_its_location(policy_copy: Path) -> None:
    (policy_copy / "basira" / "zones" / "data.json").write_text('{\n  "medina": {,\n}\n')
    with pytest.raises(PolicyParseError) as caught:
        load_policy_dir(policy_copy)
    assert (caught.value.file, caught.value.row, caught.value.col) == ("basira/zones/data.json", 2, 14)


def test_overlapping_data_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "data.json").write_text(json.dumps({"a": {"x": 1}}))
    (tmp_path / "a" / "data.json").write_text(json.dumps({"x": 2}))
    with pytest.raises(InvalidInput, match="defined twice"):
        load_policy_dir(tmp_path)


def test_revision_follows_content(policy_copy: Path) -> None:
    before = load_policy_dir(policy_copy).revision
    retention = policy_copy / "basira" / "retention" / "data.json"
    document = json.loads(retention.read_text())

    retention.write_text(json.dumps(document, indent=8))  # formatting only
    assert load_policy_dir(policy_copy).revision == before

    document["plate_read"]["days"] = 31
    retention.write_text(json.dumps(document))
    changed_data = load_policy_dir(policy_copy).revision
    assert changed_data != before

    module = policy_copy / "basira" / "authz" / "obligations.rego"
    module.write_text(module.read_text() + "\n# reviewed\n")
    assert load_policy_dir(policy_copy).revision not in (before, changed_data)


def test_revision_depends_on_module_ids_and_texts() -> None:
    assert compute_revision({"a.rego": "package a"}, {}) != compute_revision({"b.rego": "package a"}, {})
    assert compute_revision({"a.rego": "package a"}, {}) == compute_revision({"a.rego": "package a"}, {})
    assert compute_revision({}, {"x": 1}) != compute_revision({}, {"x": 2})


def test_evaluate_reads_rules_and_base_data_and_reports_undefined(policy_dir: Path) -> None:
    compiled = CompiledPolicy(load_policy_dir(policy_dir))
    zone = compiled.evaluate(("basira", "cameras", "cam-medina-01", "zone"), with_input=False)
    assert (zone.defined, zone.value) == (True, "medina")
    missing = compiled.evaluate(("basira", "cameras", "cam-nowhere"), with_input=False)
    assert missing.defined is False
    allow = compiled.evaluate(("basira", "authz", "allow"), example_input())
    assert (allow.defined, allow.value) == (True, True)


def test_evaluate_without_input_does_not_see_the_previous_input(policy_dir: Path) -> None:
    compiled = CompiledPolicy(load_policy_dir(policy_dir))
    assert compiled.evaluate(("basira", "authz", "allow"), example_input()).value is True
    assert compiled.evaluate(("basira", "authz", "allow"), with_input=False).value is False


def test_evaluation_error_is_typed(policy_dir: Path) -> None:
    """Regorus fails the evaluation on a malformed time (the client normalises times first)."""
    compiled = CompiledPolicy(load_policy_dir(policy_dir))
    bad_clock = example_input(context={**example_input()["context"], "time": "yesterday"})
    with pytest.raises(PolicyEvalError) as caught:
        compiled.decide(bad_clock)
    assert "Stack backtrace" not in str(caught.value)


def test_query_for_quotes_every_segment() -> None:
    assert query_for(DECISION_PATH) == 'data["basira"]["authz"]["decision"]'
    assert query_for(['we"ird']) == 'data["we\\"ird"]'
    assert query_for([]) == "data"
