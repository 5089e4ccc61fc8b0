"""README.md's commands work as written: every command the README shows is run here, with its
placeholders filled in (DATA_DIR=/path, EXPORT, KEY, DIR, ENDPOINTS.json) and long runs made short
(benchmark sizes, load duration), or is named with the test elsewhere that runs it. A command added to
the README without a check here fails `test_every_readme_command_is_checked`."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
BASIRA = REPO / ".venv" / "bin" / "basira"
COMMAND_PREFIXES = ("make ", "basira ", ".venv/bin/basira ", "python -m ", "opa ")

# README command -> the test that runs it: a function of this module, or `path::function` elsewhere.
DEMO = "test_make_demo_and_what_it_leaves_run_as_written"
BENCHES = "test_benchmarks_and_capacity_run_as_written"
BUILT_BY_MAKE_TEST = "test_make_test_is_built_from_the_targets_named"
CHECKED: dict[str, str] = {
    "make demo": DEMO,
    "make demo DATA_DIR=/path": DEMO,
    "basira up": DEMO,  # what `make demo` runs (with --demo); `make up` runs it without
    "make up": DEMO,
    "basira audit verify EXPORT --public-key KEY": DEMO,
    "basira audit verify EXPORT --public-key KEY --record-keys var/keys/records/public": DEMO,
    "python -m e2e.console_screenshots ENDPOINTS.json": DEMO,
    "make load": DEMO,
    'make load LOAD_ARGS="--users 40 --duration 300"': DEMO,
    "make help": "test_make_help_lists_every_target_the_readme_names",
    ".venv/bin/basira --help": "test_basira_help_lists_every_command_the_readme_names",
    "python -m basira.common.nats_identity DIR": "test_nats_identity_prints_a_server_authorization_block",
    "python -m basira.analytics.plates.letter_training": "test_letter_training_trains_and_exports",
    "make bench-plates": BENCHES,
    'make bench-plates PLATES_ARGS="--data DIR"': BENCHES,
    "make bench-gate": BENCHES,
    "make bench-gate BENCH_ARGS=--compare-security": BENCHES,
    "make bench-search": BENCHES,
    "make bench-faces": BENCHES,
    "make bench-pipeline": BENCHES,
    "make bench-pipeline bench-nats bench-search bench-audit": BENCHES,
    "make capacity": BENCHES,
    "make test": BUILT_BY_MAKE_TEST,  # this file runs inside it
    "make venv": BUILT_BY_MAKE_TEST,
    "make opa-tool": BUILT_BY_MAKE_TEST,
    "make policy-test": BUILT_BY_MAKE_TEST,
    "make console-web": BUILT_BY_MAKE_TEST,
    "make proto": "test_make_proto_regenerates_the_checked_in_stubs",
    "basira up --no-tls": "e2e/test_platform_lifecycle.py::test_up_serves_tls_unless_told_not_to",
    # OPA's own CLI (not installed here): the layout it takes is the bundle the policy service builds.
    "opa build -b policy/": "e2e/test_policy_bundles.py::test_every_service_decides_from_the_signed_bundle",
}


def readme_commands() -> set[str]:
    """The lines of the README's `sh` blocks and its inline code that start with a command."""
    text = README.read_text()
    commands = {line.split("#")[0].strip() for block in re.findall(r"```sh\n(.*?)```", text, re.S)
                for line in block.splitlines()}
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    spans = {" ".join(span.split()) for span in re.findall(r"`([^`]+)`", prose)}
    return {c for c in commands | spans if c.startswith(COMMAND_PREFIXES)}


def readme_make_targets() -> set[str]:
    """Every make target the README names: in `make ...` commands and as bare `bench-*` spans."""
    targets = set()
    for command in readme_commands():
        if command.startswith("make "):
            targets |= {word for word in shlex.split(command)[1:] if "=" not in word}
    targets |= set(re.findall(r"`(bench-[a-z-]+)`", README.read_text()))
    return targets


def run(*command: str, timeout: float = 300, env: dict[str, str] | None = None,
        check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, check=False)
    if check:
        assert done.returncode == 0, f"{' '.join(command)} exited {done.returncode}:\n" \
                                     f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def test_every_readme_command_is_checked() -> None:
    shown = readme_commands()
    assert shown - set(CHECKED) == set(), "README commands no test runs: add each to CHECKED"
    assert set(CHECKED) - shown == set(), "CHECKED names commands the README no longer shows"
    for test in set(CHECKED.values()):
        path, _, name = test.rpartition("::")
        source = (REPO / path).read_text() if path else Path(__file__).read_text()
        assert f"def {name}(" in source, f"{test} does not exist"


def test_make_help_lists_every_target_the_readme_names() -> None:
    listed = {line.split()[0] for line in run("make", "help").stdout.splitlines() if line.strip()}
    assert readme_make_targets() - listed == set()


def test_basira_help_lists_every_command_the_readme_names() -> None:
    text = README.read_text()
    named = re.search(r"lists every command: (.*?)\.", text, re.S)
    assert named is not None, "the README's list of `basira` commands"
    commands = {c.split()[0] for c in re.findall(r"`([a-z ]+)`", named.group(1))}
    assert {"up", "down", "audit", "search"} <= commands
    shown = run(str(BASIRA), "--help").stdout
    listed = set(re.findall(r"^\s{4}([a-z]+)\s", shown, re.M))
    assert commands <= listed, shown


def test_make_test_is_built_from_the_targets_named() -> None:
    """`make test` (this run) stands on venv, opa-tool, lint and policy-test; console-web is part of
    venv: each is a real target that resolves, and is in test's prerequisites."""
    database = run("make", "-pn", "test").stdout
    rules = dict(re.findall(r"^([a-z][a-z-]*):(?!=)(.*)$", database, re.M))

    def needs(target: str) -> set[str]:
        found, todo = set(), [target]
        while todo:
            for word in rules.get(todo.pop(), "").split():
                if word not in found:
                    found.add(word)
                    todo.append(word)
        return found

    closure = needs("test")
    for target in ("venv", "opa-tool", "policy-test", "lint"):
        assert target in closure, target
    assert "services/basira/console/web/dist/index.html" in rules.get("console-web", "")
    assert rules.get("console-web", "").split()[0] in closure
    for target in ("test", "venv", "opa-tool", "policy-test", "console-web"):
        run("make", "-n", target)


def test_make_proto_regenerates_the_checked_in_stubs() -> None:
    stubs = REPO / "services" / "basira" / "v1"
    before = {p.name: p.read_bytes() for p in sorted(stubs.glob("*.py*"))}
    run("make", "proto")
    after = {p.name: p.read_bytes() for p in sorted(stubs.glob("*.py*"))}
    assert after == before, "make proto changed the checked-in stubs: commit what it generates"


def test_nats_identity_prints_a_server_authorization_block(tmp_path: Path) -> None:
    shown = run(sys.executable, "-m", "basira.common.nats_identity", str(tmp_path / "identities")).stdout
    assert "authorization" in shown and "ingest" in shown and "audit" in shown
    assert sorted(p.stem for p in (tmp_path / "identities").glob("*.json"))


def test_letter_training_trains_and_exports(tmp_path: Path) -> None:
    """The training as the README runs it, on fewer damaged copies, into a scratch file (the
    committed weights stay): it trains, exports ONNX, reloads it and scores the unseen fonts."""
    out = tmp_path / "letters.onnx"
    shown = run(sys.executable, "-m", "basira.analytics.plates.letter_training", "--per-font", "4",
                "--out", str(out), timeout=600).stdout
    rates = re.search(r"rendered test \(other fonts and damage\) ([0-9.]+) on (\d+)", shown)
    assert out.stat().st_size > 0 and rates is not None, shown
    assert float(rates.group(1)) > 0.2  # far above chance over the series letters, after 4 copies


@pytest.fixture
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, subprocess.Popen[str], list[str]]]:
    """`make demo DATA_DIR=...` running until its step 5 flows; Ctrl-C'd afterwards."""
    data_dir = tmp_path_factory.mktemp("readme-demo")
    process = subprocess.Popen(["make", "demo", f"DATA_DIR={data_dir}"], cwd=REPO, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 400
    try:
        for line in process.stdout:
            lines.append(line.rstrip())
            if re.match(r"\s+\[\s*\d+s\]", line) or time.monotonic() > deadline:
                break
        yield data_dir, process, lines
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
            try:
                rest, _ = process.communicate(timeout=90)
                lines.extend(rest.splitlines())
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                raise


def test_make_demo_and_what_it_leaves_run_as_written(
        demo: tuple[Path, subprocess.Popen[str], list[str]], tmp_path: Path) -> None:
    data_dir, process, lines = demo
    shown = "\n".join(lines)
    assert process.poll() is None, f"the demo stopped:\n{shown}"
    assert f"basira up --data-dir {data_dir} --demo" in shown  # `make demo` is `basira up`
    for step in ("Basira is up.", "ALERT to the police command room: Hotlist hit",
                 "police-operator again: PERMISSION_DENIED",
                 "police-operator2 confirms: ALERT_STATE_CONFIRMED",
                 "verifies:", "every record signed by its own service", "Open the web console at"):
        assert step in shown, f"{step!r} missing from the demo:\n{shown}"
    up = run("make", "-n", "up", f"DATA_DIR={data_dir}").stdout
    assert f"basira up --data-dir {data_dir}" in up

    # The oversight body's check, with README's EXPORT, KEY and var/ filled in.
    export, key = data_dir / "exports" / "access-log.jsonl", data_dir / "exports" / "log-public-key.pem"
    plain = run(str(BASIRA), "audit", "verify", str(export), "--public-key", str(key)).stdout
    signed = run(str(BASIRA), "audit", "verify", str(export), "--public-key", str(key), "--record-keys",
                 str(data_dir / "keys" / "records" / "public")).stdout
    assert plain.startswith("OK:") and signed.startswith("OK:")
    assert "every record signed by its own service" in signed

    endpoints = data_dir / "run" / "endpoints.json"
    assert json.loads(endpoints.read_text())["console"].startswith("http")
    run(sys.executable, "-m", "e2e.console_screenshots", str(endpoints), "--out", str(tmp_path / "shots"),
        timeout=300)
    assert sorted(p.name for p in (tmp_path / "shots").glob("*.png")) == [
        "command-room-ar.png", "command-room.png", "investigations.png", "lists.png", "oversight.png",
        "policy.png"]

    # `make load` against this platform (README: `--data-dir` loads one started with `basira up`).
    small = f"--users 3 --duration 5 --photos 3 --hotlisted 1 --data-dir {data_dir}"
    load = run("make", "load", f"LOAD_ARGS={small}",
               env={"BASIRA_BENCH_DIR": str(tmp_path / "bench")}, timeout=400).stdout
    figures = json.loads((tmp_path / "bench" / "load.json").read_text())["figures"]
    assert figures["requests"] > 0 and figures["failures"] == 0, load

    os.killpg(process.pid, signal.SIGINT)  # Ctrl-C
    rest, _ = process.communicate(timeout=90)
    # make passes the Ctrl-C on and then dies of it itself (-SIGINT); basira stops cleanly under it
    assert process.returncode in (0, -signal.SIGINT) and "Stopped; no process left behind." in rest, \
        rest[-2000:]
    left = run("pgrep", "-f", str(data_dir), check=False).stdout.split()
    assert left == [], f"processes left behind: {left}"


def test_benchmarks_and_capacity_run_as_written(tmp_path: Path) -> None:
    """Every benchmark the README lists, through its make target with small sizes, writes its report;
    `make capacity` then sizes a city from the reports pipeline, nats, search and audit wrote."""
    bench = tmp_path / "bench"
    plates = tmp_path / "plates"
    plates.mkdir()
    eu = REPO.parent / "shared" / "data" / "plates" / "eu"
    for label in sorted(eu.glob("*.txt"))[:3]:
        shutil.copy(label, plates / label.name)
        shutil.copy(label.with_suffix(".jpg"), plates / label.with_suffix(".jpg").name)
    small: dict[str, list[str]] = {
        "bench-policy": ["BENCH_ARGS=--seconds 0.3"],
        "bench-gate": ["BENCH_ARGS=--seconds 0.5 --rates 100 --callers 2 --burst-seconds 0.5 "
                                     "--compare-security"],
        "bench-audit": ["BENCH_ARGS=--records 2000 --fill-batch 1000 --samples 20 --single-appends 20"],
        "bench-nats": ["BENCH_ARGS=--messages 200 --frames 60"],
        "bench-search": ["SEARCH_PLATES_ARGS=--reads 20000 --plates 2000 --queries 20 --recall-queries 2",
                         "SEARCH_FACES_ARGS=--sizes 2000 --queries 20"],
        "bench-pipeline": ["BENCH_ARGS=--frames 5 --alerts 2"],
        "bench-console": ["BENCH_ARGS=--records 500 --clients 2 --seconds 1"],
        "bench-console-ui": ["BENCH_ARGS=--alerts 2"],
        "bench-faces": ["BENCH_ARGS=--engines yunet-sface"],
        "bench-plates": [f"PLATES_ARGS=--data {plates} --frames-4k 1 --quiet"],
    }
    assert {t for t in readme_make_targets() if t.startswith("bench-")} <= set(small)
    reports = {"bench-policy": "policy", "bench-gate": "gate", "bench-audit": "audit", "bench-nats": "nats",
               "bench-search": "search_plates", "bench-pipeline": "pipeline", "bench-console": "console",
               "bench-console-ui": "console_ui", "bench-faces": "faces", "bench-plates": "plates"}
    env = {"BASIRA_BENCH_DIR": str(bench)}
    for target, args in small.items():
        run("make", target, *args, env=env, timeout=600)
        written = json.loads((bench / f"{reports[target]}.json").read_text())
        assert written["figures"], target
    assert (bench / "search_faces.json").is_file()
    plate_sets = json.loads((bench / "plates.json").read_text())["figures"]["sets"]
    assert set(plate_sets) == {"plates/engine", "plates/bare"}
    shown = run("make", "capacity", env=env).stdout
    assert "capacity" in shown and (bench / "capacity.json").is_file()
