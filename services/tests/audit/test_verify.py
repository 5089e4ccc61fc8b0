"""The offline verifier: rows tampered with directly in PostgreSQL (as a superuser would) and export
files edited by hand must be caught, and the first bad index named."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from basira.audit import merkle
from basira.audit.sth import TreeHeadSigner, public_key_b64, public_key_pem
from basira.audit.store import AuditStore
from basira.audit.verify import ProblemKind, VerifyReport, main, verify_export
from basira.common.access_record import AccessRecord, canonical_json

pytestmark = pytest.mark.integration

MakeRecord = Callable[..., AccessRecord]
N = 40


async def fill(store: AuditStore, make_record: MakeRecord, n: int = N, batch: int = 5) -> list[AccessRecord]:
    records = [make_record(i) for i in range(n)]
    for k in range(0, n, batch):
        await store.append_batch(records[k:k + batch])
    return records


def tamper(db_url: str, *statements: str) -> None:
    """Run statements as the superuser with the append-only triggers switched off."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        for table in ("audit_leaves", "audit_tree_heads"):
            conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER {table}_no_change")
        for statement in statements:
            conn.execute(statement)


def swap_rows(i: int, j: int) -> list[str]:
    """Swap two whole rows (record and leaf hash) by swapping their indexes."""
    parked = 10**12
    return [f"UPDATE audit_leaves SET idx = {parked} WHERE idx = {i}",
            f"UPDATE audit_leaves SET idx = {i} WHERE idx = {j}",
            f"UPDATE audit_leaves SET idx = {j} WHERE idx = {parked}"]


async def exported(store: AuditStore) -> bytes:
    out = io.BytesIO()
    await store.export(out)
    return out.getvalue()


def check(data: bytes, signer: TreeHeadSigner, **kwargs: object) -> VerifyReport:
    return verify_export(io.BytesIO(data), signer.public_key, **kwargs)  # type: ignore[arg-type]


def kinds(report: VerifyReport) -> set[ProblemKind]:
    return {p.kind for p in report.problems}


async def test_an_untouched_log_verifies(store: AuditStore, make_record: MakeRecord, signer: TreeHeadSigner,
                                         tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    await fill(store, make_record)
    export = tmp_path / "log.jsonl"
    export.write_bytes(await exported(store))
    key = tmp_path / "key.pem"
    key.write_text(public_key_pem(signer.public_key))
    assert main([str(export), "--public-key", str(key)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("OK:") and "40 records, 8 signed tree heads, 8 roots recomputed" in out
    assert main([str(export), "--public-key", public_key_b64(signer.public_key), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True


async def test_a_modified_record_is_pinpointed(store: AuditStore, make_record: MakeRecord, db_url: str,
                                               signer: TreeHeadSigner, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    await fill(store, make_record)
    tamper(db_url, "UPDATE audit_leaves SET canonical = replace(canonical, '\"allowed\":false', "
                   "'\"allowed\":true') WHERE idx = 12")
    assert '"allowed":true' in (await store.get_entry(12)).canonical.decode()
    data = await exported(store)
    report = check(data, signer)
    assert not report.ok and report.first_bad_index == 12
    assert [(p.kind, p.index, p.exact) for p in report.problems] == [(ProblemKind.MODIFIED, 12, True)]
    assert report.roots_checked == 8  # the stored leaf hashes still match every signed root
    export = tmp_path / "log.jsonl"
    export.write_bytes(data)
    assert main([str(export), "--public-key", public_key_b64(signer.public_key)]) == 1
    assert "FAILED" in (out := capsys.readouterr().out) and "first bad index 12" in out


async def test_a_deleted_record_is_pinpointed(store: AuditStore, make_record: MakeRecord, db_url: str,
                                              signer: TreeHeadSigner) -> None:
    await fill(store, make_record)
    tamper(db_url, "DELETE FROM audit_leaves WHERE idx = 17")
    report = check(await exported(store), signer)
    assert report.first_bad_index == 17
    assert report.first_problem is not None and report.first_problem.kind == ProblemKind.REMOVED
    assert report.first_problem.exact


async def test_swapped_records_are_pinpointed(store: AuditStore, make_record: MakeRecord, db_url: str,
                                              signer: TreeHeadSigner) -> None:
    await fill(store, make_record)
    tamper(db_url, "UPDATE audit_leaves a SET canonical = b.canonical FROM audit_leaves b "
                   "WHERE (a.idx, b.idx) IN ((9, 23), (23, 9))")
    report = check(await exported(store), signer)
    assert report.first_bad_index == 9
    assert [(p.kind, p.index) for p in report.problems] == [
        (ProblemKind.MODIFIED, 9), (ProblemKind.MODIFIED, 23)]


async def test_swapped_rows_with_their_hashes_are_located_by_the_tree_head_chain(
        store: AuditStore, make_record: MakeRecord, db_url: str, signer: TreeHeadSigner) -> None:
    await fill(store, make_record)  # a tree head every 5 leaves
    tamper(db_url, *swap_rows(9, 23))
    report = check(await exported(store), signer)
    problem = report.first_problem
    assert problem is not None and problem.kind == ProblemKind.ROOT_MISMATCH
    assert (problem.index, problem.index_end, problem.exact) == (5, 10, False)  # 9 lies in [5, 10)
    assert report.first_bad_index == 5 and "[5, 10)" in report.render()


async def test_with_a_tree_head_per_append_the_first_swapped_row_is_exact(
        store: AuditStore, make_record: MakeRecord, db_url: str, signer: TreeHeadSigner) -> None:
    await fill(store, make_record, n=20, batch=1)
    tamper(db_url, *swap_rows(6, 15))
    report = check(await exported(store), signer)
    problem = report.first_problem
    assert problem is not None and problem.kind == ProblemKind.ROOT_MISMATCH
    assert (problem.index, problem.exact, report.first_bad_index) == (6, True, 6)


async def test_a_rewritten_record_and_leaf_hash_are_located(store: AuditStore, make_record: MakeRecord,
                                                            db_url: str, signer: TreeHeadSigner) -> None:
    records = await fill(store, make_record)
    forged = make_record(27, user="nobody")
    forged_hash = merkle.leaf_hash(forged.to_json())
    tamper(db_url, f"UPDATE audit_leaves SET canonical = '{forged.to_json().decode()}', "
                   f"leaf_hash = '\\x{forged_hash.hex()}'::bytea WHERE idx = 27")
    assert records[27].user != "nobody"
    report = check(await exported(store), signer)
    assert kinds(report) == {ProblemKind.ROOT_MISMATCH}
    assert (report.first_bad_index, report.problems[0].index_end) == (25, 30)


async def test_a_truncated_log_is_caught_with_a_tree_head_seen_before(
        store: AuditStore, make_record: MakeRecord, db_url: str, signer: TreeHeadSigner,
        tmp_path: Path) -> None:
    await fill(store, make_record)
    witnessed = await store.tree_head()
    tamper(db_url, "DELETE FROM audit_leaves WHERE idx >= 30",
           "DELETE FROM audit_tree_heads WHERE tree_size > 30")
    data = await exported(store)
    assert check(data, signer).ok  # consistent on its own: only an earlier tree head can tell
    report = check(data, signer, trusted_heads=[witnessed])
    assert report.first_bad_index == 30 and kinds(report) == {ProblemKind.REMOVED}
    export, heads = tmp_path / "log.jsonl", tmp_path / "seen.jsonl"
    export.write_bytes(data)
    heads.write_text(json.dumps(witnessed.to_dict()) + "\n")
    key = public_key_b64(signer.public_key)
    assert main([str(export), "--public-key", key]) == 0
    assert main([str(export), "--public-key", key, "--sth", str(heads)]) == 1


async def test_a_forged_tree_head_and_a_wrong_key_are_rejected(store: AuditStore, make_record: MakeRecord,
                                                               db_url: str, signer: TreeHeadSigner) -> None:
    await fill(store, make_record)
    tamper(db_url, "UPDATE audit_tree_heads SET root_hash = sha256('x') WHERE tree_size = 20")
    report = check(await exported(store), signer)
    assert kinds(report) == {ProblemKind.BAD_SIGNATURE}
    other = TreeHeadSigner(Ed25519PrivateKey.generate())
    wrong = check(await exported(store), other)
    assert ProblemKind.BAD_SIGNATURE in kinds(wrong) and not wrong.ok


# --- export files edited by hand ------------------------------------------------------------------

def lines_of(data: bytes) -> list[bytes]:
    return data.split(b"\n")[:-1]


def join(lines: list[bytes]) -> bytes:
    return b"".join(line + b"\n" for line in lines)


def leaf_line(index: int, record: bytes) -> bytes:
    return b'{"type":"leaf","index":%d,"leaf_hash":"%s","record":%s}' % (
        index, merkle.leaf_hash(record).hex().encode(), record)


async def test_hand_edited_exports(store: AuditStore, make_record: MakeRecord,
                                   signer: TreeHeadSigner) -> None:
    await fill(store, make_record, n=20)
    lines = lines_of(await exported(store))
    first_leaf = 1 + 4  # header and four tree heads

    moved = list(lines)
    moved[first_leaf + 3], moved[first_leaf + 4] = moved[first_leaf + 4], moved[first_leaf + 3]
    report = check(join(moved), signer)
    assert [(p.kind, p.index) for p in report.problems] == [
        (ProblemKind.REMOVED, 3), (ProblemKind.REORDERED, 3)]

    spaced = list(lines)
    record = json.loads(lines[first_leaf + 6].split(b'"record":', 1)[1][:-1])
    spaced[first_leaf + 6] = leaf_line(6, json.dumps(record).encode())  # valid hash, not canonical
    report = check(join(spaced), signer)
    assert [(p.kind, p.index, p.index_end) for p in report.problems] == [
        (ProblemKind.NOT_CANONICAL, 6, None), (ProblemKind.ROOT_MISMATCH, 5, 10)]  # its hash changed too
    assert report.first_bad_index == 5
    assert kinds(check(join(spaced), signer, check_canonical=False)) == {ProblemKind.ROOT_MISMATCH}

    not_object = list(lines)
    not_object[first_leaf + 2] = leaf_line(2, b"[1,2]")
    report = check(join(not_object), signer)
    assert [(p.kind, p.index) for p in report.problems] == [
        (ProblemKind.MALFORMED, 2), (ProblemKind.ROOT_MISMATCH, 0)]

    garbage = list(lines)
    garbage[first_leaf + 8] = b'{"type":"leaf","index":8,"oops":1}'
    assert check(join(garbage), signer).first_bad_index == 8

    extra = [*lines, leaf_line(20, canonical_json({"id": "injected"}))]
    report = check(join(extra), signer)
    assert kinds(report) == {ProblemKind.UNSIGNED} and report.first_bad_index == 20

    heads_swapped = list(lines)
    heads_swapped[1], heads_swapped[2] = heads_swapped[2], heads_swapped[1]
    assert ProblemKind.TREE_HEAD_ORDER in kinds(check(join(heads_swapped), signer))

    assert kinds(check(b"not an export\n", signer)) == {ProblemKind.MALFORMED}
    no_heads = [lines[0], *lines[first_leaf:]]
    assert ProblemKind.UNSIGNED in kinds(check(join(no_heads), signer))


def test_cli_usage_errors(tmp_path: Path, signer: TreeHeadSigner, capsys: pytest.CaptureFixture[str]) -> None:
    key = public_key_b64(signer.public_key)
    assert main([str(tmp_path / "missing.jsonl"), "--public-key", key]) == 2
    assert main([str(tmp_path / "missing.jsonl"), "--public-key", "not-a-key"]) == 2
    with pytest.raises(SystemExit) as info:
        main([str(tmp_path / "x.jsonl")])  # --public-key is required
    assert info.value.code == 2
    capsys.readouterr()


async def test_records_their_service_did_not_sign_fail_the_record_key_check(
        store: AuditStore, make_record: MakeRecord, tmp_path: Path, signer: TreeHeadSigner,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The log's own key signs every tree head, yet a record the log holder made up (unsigned) or
    altered before appending (signature kept) is caught by the record keys alone, at its index."""
    from basira.common.record_signing import ensure_signing_key, load_private_key, sign_record

    keys_dir = tmp_path / "records"
    search = load_private_key(ensure_signing_key(keys_dir, "search"))
    good = [sign_record(make_record(i, service="search").to_dict(), "search", search) for i in range(4)]
    altered = json.loads(sign_record(make_record(4, service="search").to_dict(), "search", search))
    altered["user"] = "someone-else"
    unsigned = make_record(5, service="search").to_json()
    await store.append_batch([*good, canonical_json(altered), unsigned])
    export = tmp_path / "log.jsonl"
    export.write_bytes(await exported(store))
    key = tmp_path / "key.pem"
    key.write_text(public_key_pem(signer.public_key))

    assert main([str(export), "--public-key", str(key)]) == 0  # the Merkle checks alone pass
    capsys.readouterr()
    assert main([str(export), "--public-key", str(key), "--record-keys", str(keys_dir / "public"),
                 "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert [(p["kind"], p["index"], p["message"].split(":")[1].strip()) for p in report["problems"]] == [
        ("record-signature", 4, "bad signature"), ("record-signature", 5, "unsigned")]
    assert report["signers"] == {"search": 4}  # who vouched for the records that passed
