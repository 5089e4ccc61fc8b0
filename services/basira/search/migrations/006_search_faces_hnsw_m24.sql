-- Face search's HNSW graph (issue 8): m 24, ef_construction 100 instead of pgvector's 16 / 64. At 1M
-- faces the default graph found 0.79 of the exact matches within the threshold at ef_search 100 (0.95
-- only at ef 400, p95 137 ms); this one finds 0.987 at ef 100 (p95 20 ms) and 0.995 at ef 200
-- (loadtests/bench_search_faces.py, figures in infra/CAPACITY.md). Inserts cost ~2x more graph work,
-- a few faces per second at most; a rebuild of 1M rows takes ~30 min on 2 busy cores.
SET LOCAL maintenance_work_mem = '2GB';
DROP INDEX IF EXISTS search_faces_hnsw;
CREATE INDEX search_faces_hnsw ON search_faces USING hnsw (embedding vector_cosine_ops)
    WITH (m = 24, ef_construction = 100);
