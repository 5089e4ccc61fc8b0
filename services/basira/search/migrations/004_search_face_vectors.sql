-- Face vectors by dimension (issue 8): 128-d (SFace, dlib) stay in search_faces.embedding; 512-d
-- (insightface's ArcFace) live beside them in search_face_vectors_512, keyed by the face id, so
-- SearchFaces works whichever engine is configured. `model` still keeps engines apart within a table.
ALTER TABLE search_faces ALTER COLUMN embedding DROP NOT NULL;

CREATE TABLE search_face_vectors_512 (
    id        text PRIMARY KEY REFERENCES search_faces (id) ON DELETE CASCADE,
    model     text NOT NULL,
    embedding vector(512) NOT NULL
);
CREATE INDEX search_face_vectors_512_hnsw ON search_face_vectors_512
    USING hnsw (embedding vector_cosine_ops) WITH (m = 24, ef_construction = 100);  -- as 006 for 128-d
