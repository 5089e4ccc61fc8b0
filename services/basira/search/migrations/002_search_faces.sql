-- Face sightings for face search by image (issue 8): one row per face that passed the quality gates,
-- its embedding in a pgvector HNSW index (cosine). 128 dimensions: SFace and dlib both give 128-d
-- vectors; `model` keeps engines apart (embeddings of different models never compare).
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE search_faces (
    id           text PRIMARY KEY,                 -- the FaceDetectionEvent id
    camera_id    text NOT NULL,
    zone         text NOT NULL DEFAULT '',
    owner_agency text NOT NULL DEFAULT '',
    seen         timestamptz NOT NULL,
    box_x        integer NOT NULL DEFAULT 0,
    box_y        integer NOT NULL DEFAULT 0,
    box_w        integer NOT NULL DEFAULT 0,
    box_h        integer NOT NULL DEFAULT 0,
    snapshot_id  text NOT NULL DEFAULT '',
    track_id     text NOT NULL DEFAULT '',
    model        text NOT NULL,
    embedding    vector(128) NOT NULL,
    latitude     double precision,
    longitude    double precision,
    indexed_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX search_faces_hnsw ON search_faces USING hnsw (embedding vector_cosine_ops);
CREATE INDEX search_faces_by_time ON search_faces (seen);
CREATE INDEX search_faces_by_snapshot ON search_faces (snapshot_id) WHERE snapshot_id <> '';
