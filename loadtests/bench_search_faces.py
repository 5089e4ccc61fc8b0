"""Benchmark of face search: p50/p95 and recall@10 of the search service's own face query at 100k (and,
with --sizes, 1M) generated embeddings in pgvector's HNSW index, against exact search.

Starts the project's own PostgreSQL (or --postgres-url), applies the search migrations and fills
`search_faces` by COPY with generated 128-d unit embeddings shaped like CCTV faces: --people distinct
people, each seen several times (a person's direction plus noise), spread over 2,000 cameras and a
month. The HNSW index is built after the fill. Queries are new views of stored people; the exact
answer (top 10 by cosine distance) is computed by brute force in numpy; the timed query is
`SearchStore.search_faces` (the one SearchFaces runs) at each --ef value. Two recalls: of the exact
top 10 (`recall_at_10`, whose tail is other people at near-random distances), and of the exact top 10
within the default engine's match distance (`recall_within_threshold`: what SearchFaces can return).

    nice -n 10 .venv/bin/python loadtests/bench_search_faces.py                    # 100k (~3 min)
    nice -n 10 .venv/bin/python loadtests/bench_search_faces.py --sizes 100000,1000000 --ef 100,200,400
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from psycopg_pool import AsyncConnectionPool

from basira.common.bench import bench_database, report
from basira.common.db import migrate
from basira.search.domain import GrantedScope, SightingFilter
from basira.search.server import MIGRATIONS
from basira.search.store import SearchStore

DIM, TOP_K, MODEL = 128, 10, "bench-model"
MATCH_DISTANCE = 0.55  # the default engine's threshold: farther faces are never returned
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    return (matrix / np.linalg.norm(matrix, axis=1, keepdims=True)).astype(np.float32)


def generate(size: int, people: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(embeddings, the centre of each person) — each row a noisy view of one person."""
    centres = unit_rows(rng.standard_normal((people, DIM), dtype=np.float32))
    owners = rng.integers(0, people, size)
    return unit_rows(centres[owners] + 0.06 * rng.standard_normal((size, DIM), dtype=np.float32)), centres


async def fill(pool: AsyncConnectionPool, vectors: np.ndarray) -> dict[str, float]:
    timings: dict[str, float] = {}
    async with pool.connection() as conn:
        await conn.execute("DROP INDEX IF EXISTS search_faces_hnsw")
        await conn.execute("TRUNCATE search_faces")
        started = time.perf_counter()
        async with conn.cursor() as cur, cur.copy(
                "COPY search_faces (id, camera_id, zone, seen, model, embedding) FROM STDIN") as copy:
            for n, row in enumerate(vectors):
                seen = T0 + timedelta(seconds=n * 2_592_000 // len(vectors))
                text = "[" + ",".join(f"{v:.5f}" for v in row) + "]"
                await copy.write_row((f"f{n}", f"cam-{n * 7919 % 2000}", f"zone-{n * 7919 % 2000 // 100}",
                                      seen, MODEL, text))
        timings["fill_s"] = round(time.perf_counter() - started, 1)
        started = time.perf_counter()
        await conn.execute("SET maintenance_work_mem = '1GB'")
        await conn.execute("CREATE INDEX search_faces_hnsw ON search_faces USING hnsw "
                           "(embedding vector_cosine_ops)")
        await conn.execute("ANALYZE search_faces")
        timings["build_hnsw_s"] = round(time.perf_counter() - started, 1)
    return timings


def exact_top(vectors: np.ndarray, query: np.ndarray) -> tuple[set[str], set[str]]:
    """The exact top 10, and those of them within the match threshold (what SearchFaces returns)."""
    distances = 1.0 - vectors @ query
    top = np.argpartition(distances, TOP_K)[:TOP_K]
    return {f"f{i}" for i in top}, {f"f{i}" for i in top if distances[i] <= MATCH_DISTANCE}


async def measure(store: SearchStore, vectors: np.ndarray, queries: np.ndarray, ef: int) -> dict[str, float]:
    flt = SightingFilter(granted=GrantedScope())
    millis, recalls, matched, matches = [], [], 0, 0
    for query in queries:
        started = time.perf_counter()
        rows = await store.search_faces(MODEL, query.tolist(), flt, max_distance=2.0, limit=TOP_K,
                                        ef_search=ef)
        millis.append((time.perf_counter() - started) * 1000)
        found = {r.id for r in rows}
        top, within = exact_top(vectors, query)
        recalls.append(len(found & top) / TOP_K)
        matched, matches = matched + len(found & within), matches + len(within)
    millis.sort()
    return {"p50_ms": round(statistics.median(millis), 2),
            "p95_ms": round(millis[int(0.95 * (len(millis) - 1))], 2),
            "recall_at_10": round(statistics.fmean(recalls), 4),
            "recall_within_threshold": round(matched / max(1, matches), 4)}


async def run(args: argparse.Namespace, url: str) -> dict[str, Any]:
    rng = np.random.default_rng(args.seed)
    pool = AsyncConnectionPool(url, min_size=1, max_size=2, open=False)
    await pool.open()
    figures: dict[str, Any] = {"queries": args.queries, "load": round(os.getloadavg()[0], 2)}
    try:
        await migrate(pool, "search", MIGRATIONS)
        store = SearchStore(pool)
        for size in (int(s) for s in args.sizes.split(",")):
            vectors, centres = generate(size, max(1, size // 5), rng)
            for key, value in (await fill(pool, vectors)).items():
                figures[f"{size}.{key}"] = value
            people = rng.integers(0, len(centres), args.queries)
            queries = unit_rows(centres[people] + 0.06 * rng.standard_normal((args.queries, DIM)))
            for ef in (int(e) for e in args.ef.split(",")):
                for key, value in (await measure(store, vectors, queries, ef)).items():
                    figures[f"{size}.ef{ef}.{key}"] = value
    finally:
        await pool.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000", help="embeddings stored, comma-separated "
                        "(1000000 takes long to build: ~30+ min on 2 busy cores)")
    parser.add_argument("--ef", default="100,200", help="hnsw.ef_search values to time")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--postgres-url", default=os.environ.get("BASIRA_BENCH_POSTGRES_URL"))
    args = parser.parse_args()
    with bench_database(args.postgres_url, "basira-bench-faces-") as url:
        figures = asyncio.run(run(args, url))
    report("search_faces", figures)


if __name__ == "__main__":
    main()
