"""Benchmark of plate search at city scale: exact and fuzzy p50/p95 at 10M plate reads, and fuzzy recall.

Starts the project's own PostgreSQL (`basira.runtime.postgres`, or --postgres-url), applies the
search migrations, and fills them with --reads generated plate reads of --plates distinct vehicles
(plates in three layouts of 6-8 characters, 2,000 cameras, one read per vehicle passage): distinct
keys, their look-alike skeletons and bigrams are written by COPY from Python (the code the indexer
uses), the reads by one INSERT ... SELECT in the server, and the indexes are built after the fill.
Then it times the search service's own queries (`SearchStore`, `plan_fuzzy`, `rank_candidates`):

* exact: the newest page of sightings of an existing plate;
* fuzzy: a plate one edit away from an existing one (a look-alike, another character, one too many
  or too few), max distance 1.0, ranked and paged as SearchPlates does;
* recall: for --recall-queries fuzzy queries, the keys found against an exhaustive scan of every
  distinct key with `plate_distance` (the exact search), on both cores.

    nice -n 10 .venv/bin/python loadtests/bench_search_plates.py                 # 10M reads (~20 min)
    nice -n 10 .venv/bin/python loadtests/bench_search_plates.py --reads 200000  # quick
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import random
import re
import statistics
import string
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from typing import Any

from psycopg_pool import AsyncConnectionPool

from basira.common.bench import bench_database, report
from basira.common.db import migrate
from basira.common.plate_text import DEFAULT_CONFUSABLE_COST, confusable_skeleton, plate_distance
from basira.search.domain import SightingFilter
from basira.search.plate_index import plan_fuzzy, rank_candidates, skeleton_grams
from basira.search.server import MIGRATIONS
from basira.search.store import SearchStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PAGE = 50
MAX_CANDIDATES = 5000  # SearchSettings.max_fuzzy_candidates
LETTERS = "ABCDEFGHJKLMNPRSTVWXYZ"


def random_plate(rng: random.Random) -> str:
    """One of three layouts: 12345B6 (Moroccan), AB123CD (French), AB12CDE (British)."""
    layout = rng.randrange(3)
    if layout == 0:
        return f"{rng.randrange(1, 99999)}{rng.choice('ABDHWTY')}{rng.randrange(1, 90)}"
    if layout == 1:
        return (f"{rng.choice(LETTERS)}{rng.choice(LETTERS)}{rng.randrange(1000):03d}"
                f"{rng.choice(LETTERS)}{rng.choice(LETTERS)}")
    return (f"{rng.choice(LETTERS)}{rng.choice(LETTERS)}{rng.randrange(100):02d}"
            + "".join(rng.choice(LETTERS) for _ in range(3)))


def one_edit(key: str, rng: random.Random) -> str:
    """`key` with one random edit, as an OCR or a witness would make."""
    alphabet = string.ascii_uppercase + string.digits
    i = rng.randrange(len(key))
    kind = rng.randrange(4)
    if kind == 0:  # a look-alike
        swaps = {"0": "O", "O": "0", "1": "I", "I": "1", "8": "B", "B": "8", "5": "S", "S": "5", "2": "Z",
                 "Z": "2"}
        j = next((k for k in range(len(key)) if key[k] in swaps), i)
        return key[:j] + swaps.get(key[j], rng.choice(alphabet)) + key[j + 1:]
    if kind == 1:
        return key[:i] + rng.choice(alphabet.replace(key[i], "")) + key[i + 1:]
    if kind == 2:
        return key[:i] + rng.choice(alphabet) + key[i:]
    return key[:i] + key[i + 1:]


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def fill(pool: AsyncConnectionPool, keys: list[str], reads: int) -> dict[str, float]:
    """Keys, skeletons and bigrams by COPY; `reads` sightings generated in the server; then indexes."""
    index_sql = [line.strip().rstrip(";") for line in (MIGRATIONS / "001_search.sql").read_text().splitlines()
                 if line.strip().startswith("CREATE INDEX")]
    names = [re.search(r"CREATE INDEX (\w+)", sql).group(1) for sql in index_sql]  # type: ignore[union-attr]
    timings: dict[str, float] = {}
    async with pool.connection() as conn:
        for name in names:
            await conn.execute(f"DROP INDEX IF EXISTS {name}")
        await conn.execute("TRUNCATE search_sightings, search_plate_grams, search_plate_keys CASCADE")
        started = time.perf_counter()
        async with conn.cursor() as cur, cur.copy(
                "COPY search_plate_keys (plate_key, skeleton, length, first_seen) FROM STDIN") as copy:
            for key in keys:
                await copy.write_row((key, confusable_skeleton(key), len(key), T0))
        grams_copy = "COPY search_plate_grams (gram, plate_key) FROM STDIN"
        async with conn.cursor() as cur, cur.copy(grams_copy) as copy:
            for key in keys:
                for gram in skeleton_grams(key):
                    await copy.write_row((gram, key))
        timings["fill_keys_s"] = time.perf_counter() - started
        started = time.perf_counter()
        await conn.execute("CREATE TEMP TABLE bench_keys (n integer PRIMARY KEY, plate_key text NOT NULL)")
        buffer = io.StringIO("".join(f"{n}\t{key}\n" for n, key in enumerate(keys)))
        async with conn.cursor() as cur, cur.copy("COPY bench_keys (n, plate_key) FROM STDIN") as copy:
            await copy.write(buffer.getvalue())
        await conn.execute(
            "INSERT INTO search_sightings (id, kind, camera_id, zone, owner_agency, seen, plate_key,"
            " plate_display, confidence, snapshot_id, latitude, longitude)"
            " SELECT 'r' || g, 1, 'cam-' || (g * 7919 %% 2000), 'zone-' || (g * 7919 %% 2000 / 100),"
            " 'police',"
            " %s + g * interval '250 milliseconds', k.plate_key, k.plate_key, 0.9, '',"
            " 34.0 + (g * 7919 %% 2000) / 20000.0, -6.8 + (g * 104729 %% 2000) / 20000.0"
            " FROM generate_series(0::bigint, %s - 1) g JOIN bench_keys k ON k.n = (g * 2654435761) %% %s",
            (T0, reads, len(keys)))
        timings["fill_reads_s"] = time.perf_counter() - started
        started = time.perf_counter()
        for sql in index_sql:
            await conn.execute(sql)
        await conn.execute("ANALYZE")
        timings["build_indexes_s"] = time.perf_counter() - started
    return timings


def exhaustive(query: str, keys: list[str], max_distance: float) -> set[str]:
    """The exact search: every distinct key within `max_distance` (a length difference is a lower
    bound of the distance, so keys it rules out need no distance computed)."""
    return {key for key in keys
            if abs(len(key) - len(query)) <= max_distance
            and plate_distance(query, key, confusable_cost=DEFAULT_CONFUSABLE_COST) <= max_distance + 1e-9}


_KEYS: list[str] = []


def _init(keys: list[str]) -> None:
    global _KEYS
    _KEYS = keys


def _truth(job: tuple[str, float]) -> set[str]:
    return exhaustive(job[0], _KEYS, job[1])


async def measure(pool: AsyncConnectionPool, keys: list[str], args: argparse.Namespace,
                  rng: random.Random) -> dict[str, Any]:
    store = SearchStore(pool)
    everywhere = SightingFilter()
    figures: dict[str, Any] = {}
    exact_ms: list[float] = []
    for _ in range(args.queries):
        key = rng.choice(keys)
        started = time.perf_counter()
        rows = await store.list_sightings(everywhere, limit=PAGE + 1, cursor=None, plate_keys=[key])
        exact_ms.append((time.perf_counter() - started) * 1000)
        assert rows, f"no sighting of stored key {key}"
    fuzzy_ms: list[float] = []
    found_by_query: dict[str, set[str]] = {}
    for i in range(args.queries):
        query = one_edit(rng.choice(keys), rng)
        started = time.perf_counter()
        plan = plan_fuzzy(query, args.max_distance)
        candidates = await store.fuzzy_candidates(plan, limit=MAX_CANDIDATES)
        distances = rank_candidates(query, candidates, args.max_distance)
        await store.list_sightings(everywhere, limit=PAGE + 1, cursor=None, plate_keys=sorted(distances),
                                   distances=distances)
        fuzzy_ms.append((time.perf_counter() - started) * 1000)
        if i < args.recall_queries:
            found_by_query[query] = set(distances)
    with ProcessPoolExecutor(max_workers=2, initializer=_init, initargs=(keys,)) as workers:
        truths = list(workers.map(_truth, [(q, args.max_distance) for q in found_by_query]))
    true_total = sum(len(t) for t in truths)
    hit = sum(len(t & found_by_query[q]) for q, t in zip(found_by_query, truths, strict=True))
    extra = sum(len(found_by_query[q] - t) for q, t in zip(found_by_query, truths, strict=True))
    figures.update({
        "exact_p50_ms": statistics.median(exact_ms), "exact_p95_ms": percentile(exact_ms, 0.95),
        "exact_max_ms": max(exact_ms),
        "fuzzy_p50_ms": statistics.median(fuzzy_ms), "fuzzy_p95_ms": percentile(fuzzy_ms, 0.95),
        "fuzzy_max_ms": max(fuzzy_ms),
        "fuzzy_recall": hit / true_total if true_total else 1.0,
        "fuzzy_recall_queries": len(found_by_query), "fuzzy_true_matches": true_total,
        "fuzzy_false_matches": extra,
    })
    return figures


async def run(args: argparse.Namespace, url: str) -> dict[str, Any]:
    rng = random.Random(args.seed)
    keys = sorted({random_plate(rng) for _ in range(args.plates)})
    pool = AsyncConnectionPool(url, min_size=1, max_size=4, open=False)
    await pool.open()
    try:
        await migrate(pool, "search", MIGRATIONS)
        figures: dict[str, Any] = {"reads": args.reads, "distinct_plates": len(keys), "queries": args.queries,
                                   "max_distance": args.max_distance, "load": os.getloadavg()[0]}
        figures.update(await fill(pool, keys, args.reads))
        async with pool.connection() as conn:
            size = await (await conn.execute("SELECT pg_total_relation_size('search_sightings')")).fetchone()
        figures["sightings_table_mb"] = round((size[0] if size else 0) / 2**20)
        figures.update(await measure(pool, keys, args, rng))
    finally:
        await pool.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=10_000_000, help="plate reads (default 10,000,000)")
    parser.add_argument("--plates", type=int, default=1_000_000, help="distinct vehicles (default 1,000,000)")
    parser.add_argument("--queries", type=int, default=300, help="timed queries of each kind")
    parser.add_argument("--recall-queries", type=int, default=8,
                        help="fuzzy queries checked against the exhaustive scan (~30 s each per 1M keys)")
    parser.add_argument("--max-distance", type=float, default=1.0, help="fuzzy max_distance")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--postgres-url", default=os.environ.get("BASIRA_BENCH_POSTGRES_URL"),
                        help="use this (empty) database instead of starting one")
    args = parser.parse_args()
    with bench_database(args.postgres_url, "basira-bench-search-") as url:
        figures = asyncio.run(run(args, url))
    report("search_plates", figures)


if __name__ == "__main__":
    main()
