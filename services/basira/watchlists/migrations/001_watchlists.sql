-- Plate hotlists and face watchlists (DESIGN §5: every entry has a legal basis and an expiry).
-- Removal is a soft delete: who removed an entry, when and why stays on record for oversight.

CREATE TABLE watchlists_hotlist (
    id                  uuid PRIMARY KEY,
    seq                 bigserial NOT NULL UNIQUE,          -- paging order
    plate               text NOT NULL,                       -- canonical key (A-Z, 0-9)
    plate_as_reported   text NOT NULL,
    country             text NOT NULL DEFAULT '',
    reason              smallint NOT NULL,
    legal_kind          text NOT NULL,
    legal_reference     text NOT NULL,
    legal_issued_by     text NOT NULL DEFAULT '',
    owner_agency        text NOT NULL,
    created_by          text NOT NULL,
    created             timestamptz NOT NULL DEFAULT now(),
    expires             timestamptz NOT NULL,
    confusable_tolerant boolean NOT NULL DEFAULT false,
    note                text NOT NULL DEFAULT '',
    removed             timestamptz,
    removed_by          text,
    removal_reason      text,
    CHECK (expires > created)
);
CREATE INDEX watchlists_hotlist_plate ON watchlists_hotlist (plate) WHERE removed IS NULL;
CREATE INDEX watchlists_hotlist_active ON watchlists_hotlist (expires) WHERE removed IS NULL;

CREATE TABLE watchlists_lists (
    id           uuid PRIMARY KEY,
    seq          bigserial NOT NULL UNIQUE,
    name         text NOT NULL,
    owner_agency text NOT NULL,
    description  text NOT NULL DEFAULT '',
    created_by   text NOT NULL,
    created      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (owner_agency, name)
);

CREATE TABLE watchlists_subjects (
    id              uuid PRIMARY KEY,
    watchlist_id    uuid NOT NULL REFERENCES watchlists_lists (id),
    label           text NOT NULL,
    legal_kind      text NOT NULL,
    legal_reference text NOT NULL,
    legal_issued_by text NOT NULL DEFAULT '',
    created_by      text NOT NULL,
    created         timestamptz NOT NULL DEFAULT now(),
    expires         timestamptz NOT NULL,
    removed         timestamptz,
    removed_by      text,
    removal_reason  text,
    CHECK (expires > created)
);
CREATE INDEX watchlists_subjects_list ON watchlists_subjects (watchlist_id) WHERE removed IS NULL;

-- One row per enrolled image. Stored as real[] so embeddings of any model (dlib 128-d, ArcFace 512-d)
-- fit; `model` says which, because embeddings of different models never compare.
CREATE TABLE watchlists_embeddings (
    id         bigserial PRIMARY KEY,
    subject_id uuid NOT NULL REFERENCES watchlists_subjects (id) ON DELETE CASCADE,
    model      text NOT NULL,
    embedding  real[] NOT NULL,
    created    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX watchlists_embeddings_subject ON watchlists_embeddings (subject_id);
