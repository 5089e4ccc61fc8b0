"""The embedded Rego engine: load policies and data, compile once per revision, evaluate many times.

Wraps `regorus` (Microsoft's regorus, built as the `celine-regorus` wheel). Facts that shape this
module, measured here:
- a regorus `Engine` is pinned to the thread that created it (pyo3 `unsendable`: touching it from
  another thread, even to clone it, panics), so each thread parses its own copy, once per revision;
- parsing the `policy/` tree and loading its data takes a few milliseconds, cloning a parsed engine
  microseconds and a decision about half a millisecond, all holding the GIL: each thread keeps one
  engine per revision and gives it a new input per evaluation (rule values are recomputed on every
  evaluation; `services/tests/policy/test_engine_isolation.py` proves that no decision carries over
  to the next, which hobofan-regorus 0.2.5 did);
- served policy sets leave out the `*_test.rego` modules (as `opa build --ignore '*_test.rego'`
  does), so test helpers never show up in `data`; the test runner loads them;
- only syntax errors surface at parse time; unknown functions, unsafe variables and builtin errors
  (e.g. a malformed RFC 3339 time) surface when the rule is evaluated, as `PolicyEvalError`.

Layout of a policy directory (the same tree `opa build -b policy/` bundles): every `*.rego` file is a
module whose id is its path relative to the directory; every `data.json` is merged into the data
document at the path of its directory (`basira/agencies/data.json` -> `data.basira.agencies`).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import regorus

from basira.common.access_record import canonical_json
from basira.common.errors import BasiraError, InvalidInput
from basira.policy.rules import opa_module_asts

REGO_SUFFIX = ".rego"
DATA_FILE = "data.json"
BUNDLE_NAME = "basira"
DECISION_PATH: tuple[str, ...] = ("basira", "authz", "decision")
DECISION_RULE = "data." + ".".join(DECISION_PATH)

_LOCATION = re.compile(r"-->\s*(?P<file>.+?):(?P<row>\d+):(?P<col>\d+)")
_MESSAGE = re.compile(r"^error:\s*(?P<message>.*)$", re.MULTILINE)


class PolicyParseError(InvalidInput):
    """A policy module (or data file) does not parse; carries where, as `file:row:col: message`."""

    def __init__(self, file: str, row: int, col: int, detail: str) -> None:
        super().__init__(f"{file}:{row}:{col}: {detail}")
        self.file = file
        self.row = row
        self.col = col
        self.detail = detail


class PolicyEvalError(BasiraError):
    """Evaluating a query failed (unknown function, conflicting values, a builtin's error)."""

    def __init__(self, message: str, file: str = "", row: int = 0, col: int = 0) -> None:
        super().__init__(message)
        self.file = file
        self.row = row
        self.col = col


def engine_error_text(error: BaseException) -> str:
    """The message of a regorus error without the Rust stack backtrace appended when RUST_BACKTRACE is set."""
    text = str(error)
    return text.split("\nStack backtrace:", 1)[0].strip()


def _located(error: BaseException, default_file: str) -> tuple[str, int, int, str]:
    """(file, row, col, message) out of a regorus error's text (`--> file:row:col` ... `error: msg`)."""
    text = engine_error_text(error)
    where = _LOCATION.search(text)
    what = _MESSAGE.search(text)
    detail = what.group("message").strip() if what else text.splitlines()[-1].strip() if text else "error"
    if where is None:
        return default_file, 0, 0, detail
    return where.group("file"), int(where.group("row")), int(where.group("col")), detail


def _eval_error(error: BaseException) -> PolicyEvalError:
    """A regorus evaluation failure as PolicyEvalError, located when the engine says where."""
    file, row, col, detail = _located(error, "")
    where = f"{file}:{row}:{col}: " if file else ""
    return PolicyEvalError(f"{where}{detail}", file, row, col)


def compute_revision(modules: Mapping[str, str], data: Mapping[str, Any]) -> str:
    """Short hex sha256 over module ids + texts (sorted by id) and the canonical JSON of the data.

    Depends on content only: reformatting a data file does not change it, any edit to a module does.
    """
    digest = hashlib.sha256()
    for module_id in sorted(modules):
        digest.update(b"module\0" + module_id.encode() + b"\0" + modules[module_id].encode() + b"\0")
    digest.update(b"data\0" + canonical_json(dict(data)))
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class PolicySet:
    """Rego modules (id -> text) and the base data document: everything a revision is made of."""

    modules: Mapping[str, str]
    data: Mapping[str, Any] = field(default_factory=dict)

    @property
    def revision(self) -> str:
        return compute_revision(self.modules, self.data)


def merge_data(document: dict[str, Any], path: Sequence[str], value: Any, origin: str) -> None:
    """Merge `value` into `document` at `path` (creating objects on the way); raise on overlap."""
    node = document
    for depth, key in enumerate(path):
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise InvalidInput(f"{origin}: data path {'/'.join(path[: depth + 1])} is not an object")
        node = child
    if not path and not isinstance(value, dict):
        raise InvalidInput(f"{origin}: the root data document must be an object")
    if isinstance(value, dict):
        for key, item in value.items():
            if key in node:
                raise InvalidInput(f"{origin}: data {'/'.join([*path, key])} is defined twice")
            node[key] = item
    else:
        raise InvalidInput(f"{origin}: data under {'/'.join(path)} must be an object")


def is_test_module(module_id: str) -> bool:
    return module_id.endswith("_test" + REGO_SUFFIX)


def load_policy_dir(directory: str | Path, *, include_tests: bool = False) -> PolicySet:
    """Read every `*.rego` and `data.json` under `directory` (hidden entries skipped).

    `*_test.rego` modules are left out unless `include_tests` (serving does not need them).

    Raises PolicyParseError for a data file that is not JSON (with its row/col), InvalidInput for
    data files that overlap, FileNotFoundError if the directory does not exist.
    """
    root = Path(directory)
    if not root.is_dir():
        raise FileNotFoundError(f"policy directory {root} does not exist")
    modules: dict[str, str] = {}
    document: dict[str, Any] = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part.startswith(".") for part in relative.parts) or not path.is_file():
            continue
        if path.suffix == REGO_SUFFIX:
            if is_test_module(relative.as_posix()) and not include_tests:
                continue
            modules[relative.as_posix()] = path.read_text(encoding="utf-8")
        elif path.name == DATA_FILE:
            try:
                value = json.loads(path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as error:
                raise PolicyParseError(relative.as_posix(), error.lineno, error.colno, error.msg) from error
            merge_data(document, relative.parent.parts, value, relative.as_posix())
    return PolicySet(modules=modules, data=document)


def parse_modules(modules: Mapping[str, str]) -> regorus.Engine:
    """A fresh engine holding `modules`; raises PolicyParseError naming the first module that fails."""
    engine = regorus.Engine()
    for module_id in sorted(modules):
        try:
            engine.add_policy(module_id, modules[module_id])
        except BaseException as error:  # pyo3 panics derive from BaseException
            if isinstance(error, KeyboardInterrupt | SystemExit):
                raise
            raise PolicyParseError(*_located(error, module_id)) from None
    return engine


def query_for(path: Sequence[str]) -> str:
    """The Rego query reading `data` at `path`, each segment a JSON string (safe for any key)."""
    return "data" + "".join(f"[{json.dumps(segment)}]" for segment in path)


@dataclass(frozen=True)
class Evaluation:
    """The value at a path, or `defined=False` when the path is undefined (OPA omits `result`)."""

    defined: bool
    value: Any = None


class CompiledPolicy:
    """One revision of the policy, parsed once per thread and evaluated any number of times.

    Construction parses on the calling thread and raises PolicyParseError; other threads parse
    their own copy on first use. `data.system.bundles.<bundle>.manifest` carries the revision, the
    shape an OPA server gives a bundle, so the policy can put the revision in its decision.
    """

    def __init__(self, policy_set: PolicySet, bundle_name: str = BUNDLE_NAME) -> None:
        self.policy_set = policy_set
        self.revision = policy_set.revision
        self.bundle_name = bundle_name
        self._local = threading.local()
        self._asts: dict[str, dict[str, Any]] | None = None
        self._prototype()  # parse now, on this thread, so errors reach the caller

    def data_document(self) -> dict[str, Any]:
        """The base data plus the bundle manifest the policy reads its revision from."""
        document = json.loads(json.dumps(dict(self.policy_set.data)))
        system = document.setdefault("system", {})
        if not isinstance(system, dict):
            raise InvalidInput("data.system must be an object")
        bundles = system.setdefault("bundles", {})
        bundles[self.bundle_name] = {"manifest": {"revision": self.revision, "roots": [""]}}
        return document

    def _prototype(self) -> regorus.Engine:
        """This thread's engine for queries with an input (parsed on first use per thread)."""
        engine = getattr(self._local, "engine", None)
        if engine is None:
            engine = self.new_engine()
            self._local.engine = engine
        return engine

    def _no_input_engine(self) -> regorus.Engine:
        """This thread's engine that never receives an input (OPA's GET: `input` undefined)."""
        engine = getattr(self._local, "bare", None)
        if engine is None:
            engine = self.new_engine()
            self._local.bare = engine
        return engine

    def module_asts(self) -> dict[str, dict[str, Any]]:
        """Per module id, the slice of OPA's AST that REST clients read (computed once)."""
        if self._asts is None:
            self._asts = opa_module_asts(self._prototype().get_ast_as_json())
        return self._asts

    @property
    def packages(self) -> list[str]:
        """Package paths of the loaded modules, e.g. `data.basira.authz`."""
        return list(self._prototype().get_packages())

    def new_engine(self) -> regorus.Engine:
        """A new engine holding this revision's modules and data (for callers that need engine state)."""
        engine = parse_modules(self.policy_set.modules)
        engine.add_data_json(json.dumps(self.data_document()))
        return engine

    def evaluate(
        self, path: Sequence[str], policy_input: Any = None, *, with_input: bool = True
    ) -> Evaluation:
        """Evaluate `data.<path>` with `policy_input` as `input` (none when `with_input` is False).

        Raises PolicyEvalError when evaluation fails. An empty path evaluates the whole of `data`.
        """
        if with_input:
            engine = self._prototype()
            engine.set_input_json(json.dumps(policy_input))
        else:
            engine = self._no_input_engine()
        try:
            raw = engine.eval_query_as_json(query_for(path))
        except BaseException as error:
            if isinstance(error, KeyboardInterrupt | SystemExit):
                raise
            raise _eval_error(error) from None
        results = json.loads(raw).get("result") or []
        if not results:
            return Evaluation(defined=False)
        return Evaluation(defined=True, value=results[0]["expressions"][0]["value"])

    def decide(self, policy_input: Mapping[str, Any]) -> dict[str, Any]:
        """The gate's decision document for `policy_input` (undefined decision -> PolicyEvalError).

        Evaluates the decision rule itself (`eval_rule`), not a query naming it: the same value
        without parsing a query on every call (a tenth of the evaluation, measured), through JSON
        so numbers keep their type (regorus' Python values turn every number into a float).
        """
        engine = self._prototype()
        engine.set_input_json(json.dumps(dict(policy_input)))
        try:
            raw = engine.eval_rule_as_json(DECISION_RULE)
        except BaseException as error:
            if isinstance(error, KeyboardInterrupt | SystemExit):
                raise
            raise _eval_error(error) from None
        value = json.loads(raw)
        if not isinstance(value, dict):  # an undefined rule comes back as the string "<undefined>"
            raise PolicyEvalError(f"{DECISION_RULE} is undefined")
        return value
