"""Benchmark of the access log: durable appends/s, proof latency and offline verification at scale.

Fills a real PostgreSQL (pgserver, or --postgres-url) with --records access records through the COPY
path, then measures inclusion/consistency proof latency at that size, exports the log and times the
offline verifier on the export (one core), and finally durable appends/s for batch sizes 1, 100,
1000 and for many concurrent single-record writers sharing commits (group commit).

    .venv/bin/python loadtests/bench_audit.py                   # 1,000,000 records (several minutes)
    .venv/bin/python loadtests/bench_audit.py --records 20000   # CI-sized
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from psycopg_pool import AsyncConnectionPool

from basira.audit import merkle
from basira.audit.batching import GroupCommitter
from basira.audit.sth import TreeHeadSigner
from basira.audit.store import AuditStore
from basira.audit.verify import verify_export
from basira.common.access_record import AccessRecord
from basira.common.bench import report

ACTIONS = ["search.face", "search.plate", "search.sightings", "alert.confirm", "evidence.unmask"]


def make_record(i: int, rng: random.Random) -> AccessRecord:
    """A realistic access record (~600 bytes of canonical JSON)."""
    allowed = rng.random() > 0.1
    return AccessRecord(
        action=ACTIONS[i % len(ACTIONS)],
        user=f"officer-{rng.randrange(500)}",
        agency=rng.choice(["police", "gendarmerie", "customs", "civil-protection"]),
        roles=["investigator"] if i % 3 else ["investigator", "supervisor"],
        allowed=allowed,
        reasons=[] if allowed else ["no authorization covers camera cam-17 for this purpose"],
        resource={"cameras": [f"cam-{rng.randrange(2000)}" for _ in range(1 + i % 3)], "zone": "medina",
                  "data_class": "biometric" if i % 2 else "plates",
                  "time_from": "2026-03-01T08:00:00Z", "time_to": "2026-03-01T09:00:00Z"},
        purpose="theft-investigation",
        case_id=f"CASE-2026-{rng.randrange(10000):04d}",
        authorization_id=f"AUTH-{rng.randrange(1000)}",
        obligations={"mask_faces": True, "max_results": 50} if allowed else {},
        result_count=rng.randrange(50) if allowed else None,
        policy_revision="policy-2026-03-01-a1b2c3",
        service="search",
        method="/basira.v1.SearchService/SearchFace",
        status="OK" if allowed else "PERMISSION_DENIED",
        source_ip=f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}",
        id=uuid.UUID(int=rng.getrandbits(128)).hex,
    )


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def fill(store: AuditStore, total: int, batch: int, rng: random.Random) -> float:
    started = time.perf_counter()
    done = 0
    while done < total:
        n = min(batch, total - done)
        await store.append_batch([make_record(done + k, rng) for k in range(n)])
        done += n
        if done % (batch * 10) == 0 or done == total:
            rate = done / (time.perf_counter() - started)
            print(f"  filled {done:>9,} records ({rate:,.0f}/s)", flush=True)
    return time.perf_counter() - started


async def appends_per_second(store: AuditStore, batch: int, total: int, rng: random.Random) -> float:
    records = [make_record(k, rng) for k in range(total)]
    started = time.perf_counter()
    for k in range(0, total, batch):
        await store.append_batch(records[k:k + batch])
    return total / (time.perf_counter() - started)


async def group_commit_per_second(store: AuditStore, writers: int, total: int, rng: random.Random) -> float:
    records = [make_record(k, rng) for k in range(total)]
    committer = GroupCommitter(store, max_batch=1000, sign_interval=1.0)
    await committer.start()
    queue = iter(records)

    async def writer() -> None:
        for record in queue:
            await committer.append(record)

    started = time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(writers)))
    elapsed = time.perf_counter() - started
    await committer.close()
    return total / elapsed


async def run(args: argparse.Namespace, url: str, work: Path) -> dict[str, Any]:
    rng = random.Random(20260301)
    signer = TreeHeadSigner(Ed25519PrivateKey.generate(), log_id="basira-bench")
    figures: dict[str, Any] = {"records": args.records}
    async with AsyncConnectionPool(url, min_size=2, max_size=4) as pool:
        store = AuditStore(pool, signer)
        await store.migrate()

        print(f"filling {args.records:,} records, {args.fill_batch:,} per transaction (COPY + tree head)")
        seconds = await fill(store, args.records, args.fill_batch, rng)
        figures["fill_seconds"] = seconds
        figures["fill_records_per_s"] = args.records / seconds

        size = (await store.tree_head()).tree_size
        root = (await store.tree_head()).root_hash
        inclusion: list[float] = []
        for _ in range(args.samples):
            index = rng.randrange(size)
            started = time.perf_counter()
            proof = await store.inclusion_proof(index, size)
            inclusion.append((time.perf_counter() - started) * 1000)
            merkle.verify_inclusion(proof.leaf_hash, index, size, proof.hashes, root)
        consistency: list[float] = []
        for _ in range(args.samples):
            size1 = rng.randrange(1, size + 1)
            started = time.perf_counter()
            step = await store.consistency_proof(size1, size)
            consistency.append((time.perf_counter() - started) * 1000)
            merkle.verify_consistency(size1, size, step.hashes, step.root1, root)
        figures["inclusion_proof_ms_p50"] = statistics.median(inclusion)
        figures["inclusion_proof_ms_p99"] = percentile(inclusion, 0.99)
        figures["consistency_proof_ms_p50"] = statistics.median(consistency)
        figures["consistency_proof_ms_p99"] = percentile(consistency, 0.99)
        print(f"proofs at {size:,}: inclusion p50 {figures['inclusion_proof_ms_p50']:.2f} ms, "
              f"consistency p50 {figures['consistency_proof_ms_p50']:.2f} ms")

        export = work / "audit-export.jsonl"
        started = time.perf_counter()
        with open(export, "wb", buffering=1 << 20) as out:
            summary = await store.export(out)
        figures["export_seconds"] = time.perf_counter() - started
        figures["export_mb"] = summary.bytes_written / 1e6
        figures["export_tree_heads"] = summary.tree_heads
        print(f"exported {summary.tree_size:,} records in {figures['export_seconds']:.1f} s; verifying")

        verified = verify_export(export, signer.public_key)
        figures["verify_seconds"] = verified.seconds
        figures["verify_records_per_s"] = verified.leaves / verified.seconds
        figures["verify_ok"] = verified.ok
        if not verified.ok:
            print(verified.render())
        export.unlink()

        print("durable appends (each batch one committed transaction, fsync on)")
        for batch, total in ((1, args.single_appends), (100, 20_000), (1000, 50_000)):
            figures[f"appends_per_s_batch_{batch}"] = await appends_per_second(store, batch, total, rng)
        figures["appends_per_s_group_commit_256_writers"] = await group_commit_per_second(
            store, 256, 20_000, rng)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000, help="records to fill (default 1,000,000)")
    parser.add_argument("--fill-batch", type=int, default=10_000, help="records per fill transaction")
    parser.add_argument("--samples", type=int, default=1000, help="proofs of each kind to time")
    parser.add_argument("--single-appends", type=int, default=500, help="records for the batch-size-1 run")
    parser.add_argument("--postgres-url", default=os.environ.get("BASIRA_BENCH_POSTGRES_URL"),
                        help="use this (empty) database instead of starting pgserver")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="basira-bench-audit-", dir="/tmp"))
    server = None
    try:
        if args.postgres_url:
            url = args.postgres_url
        else:
            import pgserver

            server = pgserver.get_server(work / "pg", cleanup_mode="stop")
            url = server.get_uri()
        figures = asyncio.run(run(args, url, work))
    finally:
        if server is not None:
            server.cleanup()
        shutil.rmtree(work, ignore_errors=True)
    report("audit", figures)


if __name__ == "__main__":
    main()
