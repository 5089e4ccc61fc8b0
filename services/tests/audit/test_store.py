"""The PostgreSQL access log against a real server: appends, dedupe, proofs, queries, append-only."""

from __future__ import annotations

import asyncio
import io
import itertools
from collections.abc import Callable
from datetime import UTC, datetime

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from basira.audit import merkle
from basira.audit.batching import GroupCommitter
from basira.audit.merkle import MemoryTree
from basira.audit.sth import SignedTreeHead, TreeHeadSigner, verify_tree_head
from basira.audit.store import AuditStore, LogQuery, StorageCorrupted, prepare_record
from basira.audit.verify import verify_export
from basira.common.access_record import AccessRecord
from basira.common.errors import FailedPrecondition, InvalidInput, NotFound

pytestmark = pytest.mark.integration

MakeRecord = Callable[..., AccessRecord]


def leaf_of(record: AccessRecord) -> bytes:
    return merkle.leaf_hash(record.to_json())


async def test_append_assigns_consecutive_indexes_and_signs(store: AuditStore, make_record: MakeRecord,
                                                            signer: TreeHeadSigner) -> None:
    records = [make_record(i) for i in range(10)]
    first = await store.append_batch(records[:4])
    assert (first.first_index, first.new_size, first.indexes) == (0, 4, (0, 1, 2, 3))
    assert first.sth is not None and first.sth.tree_size == 4
    assert first.sth.root_hash == merkle.root_hash([leaf_of(r) for r in records[:4]])
    verify_tree_head(signer.public_key, first.sth)
    second = await store.append_batch(records[4:])
    assert (second.first_index, second.new_size) == (4, 10)
    assert await store.size() == 10
    assert await store.root() == merkle.root_hash([leaf_of(r) for r in records])
    entry = await store.get_entry(7)
    assert entry.canonical == records[7].to_json() and entry.record["id"] == "rec-00000007"
    assert entry.leaf_hash == leaf_of(records[7])


async def test_redelivered_records_are_never_duplicated(store: AuditStore, make_record: MakeRecord) -> None:
    records = [make_record(i) for i in range(6)]
    await store.append_batch(records[:4])
    again = await store.append_batch([records[2], records[4], records[2], records[5], records[0]])
    assert again.indexes == (2, 4, 2, 5, 0)
    assert (again.first_index, again.new_size, again.appended) == (4, 6, 2)
    nothing_new = await store.append_batch(records)
    assert nothing_new.appended == 0 and nothing_new.indexes == tuple(range(6))
    assert nothing_new.sth is None  # the size did not change: no new tree head
    assert await store.size() == 6
    assert len(await store.tree_heads()) == 2


async def test_a_malformed_record_appends_nothing(store: AuditStore, make_record: MakeRecord) -> None:
    with pytest.raises(InvalidInput):
        await store.append_batch([make_record(0), {"action": "x"}])  # no id
    with pytest.raises(InvalidInput):
        await store.append_batch([make_record(1, resource={"x": float("nan")})])
    with pytest.raises(InvalidInput):
        await store.append_batch([b'{"id": "a",  "b": 1}'])  # bytes must be canonical
    assert await store.size() == 0
    canonical = make_record(2).to_json()
    result = await store.append_batch([canonical])
    assert result.new_size == 1 and (await store.get_entry(0)).canonical == canonical


async def test_unusual_text_is_stored_exactly(store: AuditStore, make_record: MakeRecord) -> None:
    odd = make_record(0, purpose="enquête \u0000 \u202e مراكش 🚓 \\u0000", reasons=["\n\t\"q\""])
    await store.append_batch([odd])
    entry = await store.get_entry(0)
    assert entry.canonical == odd.to_json()
    assert entry.leaf_hash == leaf_of(odd)
    page = await store.query(LogQuery(user=odd.user))
    assert [e.index for e in page.entries] == [0]


async def test_proofs_match_an_in_memory_tree_at_every_size(store: AuditStore,
                                                            make_record: MakeRecord) -> None:
    records = [make_record(i) for i in range(70)]
    position = 0
    for size in (1, 2, 5, 8, 13, 31, 32, 33, 50, 70):  # uneven batches, every size signed
        await store.append_batch(records[position:size])
        position = size
    tree = MemoryTree(leaf_of(r) for r in records)
    heads = {h.tree_size: h for h in await store.tree_heads()}
    for size in heads:
        assert heads[size].root_hash == tree.root(size) == await store.root(size)
        for index in range(size):
            proof = await store.inclusion_proof(index, size)
            assert proof.hashes == tree.inclusion_proof(index, size)
            assert proof.sth == heads[size]
            merkle.verify_inclusion(proof.leaf_hash, index, size, proof.hashes, heads[size].root_hash)
        for size1 in range(0, size + 1):
            consistency = await store.consistency_proof(size1, size)
            assert consistency.hashes == tree.consistency_proof(size1, size)
            merkle.verify_consistency(size1, size, consistency.hashes, tree.root(size1), tree.root(size))


async def test_proof_defaults_and_errors(store: AuditStore, make_record: MakeRecord) -> None:
    with pytest.raises(FailedPrecondition):
        await store.inclusion_proof(0)
    with pytest.raises(NotFound):
        await store.tree_head()
    records = [make_record(i) for i in range(9)]
    await store.append_batch(records[:6])
    await store.append_batch(records[6:], sign=False)
    latest = await store.tree_head()
    assert latest.tree_size == 6  # the unsigned tail is not what proofs default to
    proof = await store.inclusion_proof(2)
    assert proof.tree_size == 6 and proof.sth == latest
    by_hash = await store.inclusion_proof_by_hash(leaf_of(records[2]))
    assert by_hash == proof
    with pytest.raises(NotFound):
        await store.inclusion_proof_by_hash(leaf_of(records[7]))  # appended after the latest tree head
    assert (await store.inclusion_proof_by_hash(leaf_of(records[7]), 9)).index == 7
    with pytest.raises(InvalidInput):
        await store.inclusion_proof(6)
    with pytest.raises(InvalidInput):
        await store.inclusion_proof(0, 10)
    with pytest.raises(InvalidInput):
        await store.consistency_proof(7, 6)
    with pytest.raises(NotFound):
        await store.tree_head(5)
    assert (await store.tree_head(6)) == latest


async def test_sign_tree_head_is_idempotent_unless_forced(store: AuditStore, make_record: MakeRecord) -> None:
    await store.append_batch([make_record(i) for i in range(3)], sign=False)
    sth = await store.sign_tree_head()
    assert sth.tree_size == 3
    assert await store.sign_tree_head() == sth
    fresh = await store.sign_tree_head(force=True)
    assert fresh.tree_size == 3 and fresh.timestamp >= sth.timestamp and fresh.signature != sth.signature
    heads = await store.tree_heads()
    assert [h.tree_size for h in heads] == [3, 3]
    assert all(a.timestamp <= b.timestamp for a, b in itertools.pairwise(heads))


async def test_query_filters_and_pages(store: AuditStore, make_record: MakeRecord) -> None:
    records = [make_record(i) for i in range(60)]
    await store.append_batch(records)
    page = await store.query(LogQuery(user="officer-1", agency="customs"), page_size=4)
    want = [i for i, r in enumerate(records) if r.user == "officer-1" and r.agency == "customs"]
    seen = [e.index for e in page.entries]
    while page.next_page_token:
        page = await store.query(LogQuery(user="officer-1", agency="customs"), page_size=4,
                                 page_token=page.next_page_token)
        seen += [e.index for e in page.entries]
    assert seen == want
    case = await store.query(LogQuery(case_id="CASE-2026-0002", action="alert.confirm"), page_size=1000)
    assert [e.index for e in case.entries] == [
        i for i, r in enumerate(records) if r.case_id == "CASE-2026-0002" and r.action == "alert.confirm"]
    window = await store.query(LogQuery(time_from=datetime(2026, 3, 1, 10, 0, 10, tzinfo=UTC),
                                        time_to=datetime(2026, 3, 1, 10, 0, 20, tzinfo=UTC)), page_size=1000)
    assert [e.index for e in window.entries] == list(range(10, 20))
    newest = await store.query(LogQuery(), page_size=3, descending=True)
    assert [e.index for e in newest.entries] == [59, 58, 57]
    following = await store.query(LogQuery(), page_size=3, descending=True, page_token=newest.next_page_token)
    assert [e.index for e in following.entries] == [56, 55, 54]
    with pytest.raises(InvalidInput):
        await store.query(LogQuery(), page_token="abc")
    with pytest.raises(InvalidInput):
        await store.query(LogQuery(), page_size=0)


@pytest.mark.parametrize("statement", [
    "UPDATE audit_leaves SET canonical = '{}' WHERE idx = 1",
    "DELETE FROM audit_leaves WHERE idx = 1",
    "TRUNCATE audit_leaves",
    "UPDATE audit_nodes SET hash = hash WHERE level = 1",
    "DELETE FROM audit_nodes",
    "UPDATE audit_tree_heads SET tree_size = 0",
    "DELETE FROM audit_tree_heads",
    "TRUNCATE audit_tree_heads",
])
async def test_the_log_rejects_update_delete_truncate(store: AuditStore, make_record: MakeRecord,
                                                      db_url: str, statement: str) -> None:
    await store.append_batch([make_record(i) for i in range(4)])
    with psycopg.connect(db_url) as conn:  # a superuser: triggers still apply
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute(statement)
        conn.rollback()
        conn.execute("SET session_replication_role = replica")  # does not bypass ENABLE ALWAYS triggers
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)
    assert await store.size() == 4


async def test_privileges_are_revoked_and_roles_granted(store: AuditStore, db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT grantee, privilege_type FROM information_schema.role_table_grants "
            "WHERE table_name = 'audit_leaves' AND grantee LIKE 'basira_audit_%' ORDER BY 1, 2").fetchall()
        public = conn.execute(
            "SELECT has_table_privilege('public', 'audit_leaves', 'UPDATE'), "
            "has_table_privilege('basira_audit_writer', 'audit_leaves', 'DELETE')").fetchone()
    assert rows == [("basira_audit_reader", "SELECT"), ("basira_audit_writer", "INSERT"),
                    ("basira_audit_writer", "SELECT")]
    assert public == (False, False)


async def test_migration_is_idempotent(store: AuditStore, make_record: MakeRecord) -> None:
    await store.append_batch([make_record(0)])
    await store.migrate()
    await store.migrate()
    assert await store.size() == 1


async def test_two_writers_stay_consistent(pool: AsyncConnectionPool, signer: TreeHeadSigner,
                                           make_record: MakeRecord) -> None:
    a, b = AuditStore(pool, signer), AuditStore(pool, signer)
    await a.migrate()
    records = [make_record(i) for i in range(120)]

    async def write(store: AuditStore, chunk: list[AccessRecord]) -> None:
        for k in range(0, len(chunk), 7):
            await store.append_batch(chunk[k:k + 7])

    await asyncio.gather(write(a, records[:60]), write(b, records[60:]))
    size = await a.size()
    assert size == 120
    leaves = [(await a.get_entry(i)).leaf_hash for i in range(size)]
    assert sorted(leaves) == sorted(leaf_of(r) for r in records)
    tree = MemoryTree(leaves)
    heads = await a.tree_heads()
    assert [h.tree_size for h in heads] == sorted(h.tree_size for h in heads)
    for head in heads:  # every head either writer signed agrees with the stored leaves
        assert head.root_hash == tree.root(head.tree_size)


async def test_a_writer_refuses_to_extend_an_altered_log(pool: AsyncConnectionPool, signer: TreeHeadSigner,
                                                        db_url: str, make_record: MakeRecord) -> None:
    first = AuditStore(pool, signer)
    await first.migrate()
    await first.append_batch([make_record(i) for i in range(12)])
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE audit_nodes DISABLE TRIGGER audit_nodes_no_change")
        conn.execute("UPDATE audit_nodes SET hash = sha256(hash) WHERE level = 3 AND idx = 0")
    with pytest.raises(StorageCorrupted, match="altered"):
        await AuditStore(pool, signer).append_batch([make_record(12)])  # a fresh writer reloads the tree
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE audit_leaves DISABLE TRIGGER audit_leaves_no_change")
        conn.execute("DELETE FROM audit_leaves WHERE idx >= 10")
    with pytest.raises(StorageCorrupted, match="signed 12"):
        await AuditStore(pool, signer).sign_tree_head()
    assert await first.size() == 10


async def test_a_single_connection_works_too(db_url: str, signer: TreeHeadSigner,
                                             make_record: MakeRecord) -> None:
    async with await psycopg.AsyncConnection.connect(db_url) as conn:
        store = AuditStore(conn, signer)
        await store.migrate()
        await asyncio.gather(*(store.append_batch([make_record(i)]) for i in range(5)))
        assert await store.size() == 5
        assert (await store.inclusion_proof(3)).tree_size == 5


async def test_export_writes_a_verifiable_snapshot(store: AuditStore, make_record: MakeRecord,
                                                   signer: TreeHeadSigner) -> None:
    records = [make_record(i) for i in range(25)]
    await store.append_batch(records[:10])
    await store.append_batch(records[10:20])
    await store.append_batch(records[20:], sign=False)  # unsigned tail: not exported
    out = io.BytesIO()
    summary = await store.export(out, chunk_rows=7)
    assert (summary.tree_size, summary.tree_heads, summary.bytes_written) == (20, 2, len(out.getvalue()))
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 + 2 + 20
    assert lines[3] == b'{"type":"leaf","index":0,"leaf_hash":"%s","record":%s}' % (
        leaf_of(records[0]).hex().encode(), records[0].to_json())
    report = verify_export(io.BytesIO(out.getvalue()), signer.public_key)
    assert report.ok, report.render()
    assert (report.leaves, report.tree_heads, report.roots_checked) == (20, 2, 2)
    older = io.BytesIO()
    await store.export(older, tree_size=10)
    assert verify_export(io.BytesIO(older.getvalue()), signer.public_key).leaves == 10
    with pytest.raises(NotFound):
        await store.export(io.BytesIO(), tree_size=15)


async def test_group_commit_batches_concurrent_appends(store: AuditStore, make_record: MakeRecord) -> None:
    published: list[SignedTreeHead] = []

    async def publish(sth: SignedTreeHead) -> None:
        published.append(sth)

    committer = GroupCommitter(store, max_batch=50, sign_interval=3600, on_signed=publish)
    await committer.start()
    records = [make_record(i) for i in range(200)]
    indexes = await asyncio.gather(*(committer.append(r) for r in records))
    again = await committer.append(records[17])  # redelivery: same index
    with pytest.raises(InvalidInput):
        await committer.append({"no": "id"})
    await committer.close()
    assert sorted(indexes) == list(range(200)) and again == indexes[17]
    for record, index in zip(records, indexes, strict=True):
        assert (await store.get_entry(index)).canonical == record.to_json()
    heads = await store.tree_heads()
    assert len(heads) < 10  # a handful of signatures, not one per record
    assert heads[-1].tree_size == 200 and published[-1] == heads[-1]


async def test_prepare_record_accepts_the_three_forms(make_record: MakeRecord) -> None:
    record = make_record(3)
    a = prepare_record(record)
    assert prepare_record(record.to_dict()) == a == prepare_record(record.to_json())
    assert a.leaf_hash == leaf_of(record) and a.at == datetime(2026, 3, 1, 10, 0, 3, tzinfo=UTC)
    assert prepare_record(make_record(4, time="yesterday")).at is None
