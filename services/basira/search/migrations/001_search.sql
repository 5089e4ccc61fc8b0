-- Search: plate sightings, the fuzzy-lookup index over distinct plate keys, evidence snapshots, counts.

CREATE TABLE search_sightings (
    id            text PRIMARY KEY,              -- the detection event id (idempotent indexing)
    kind          smallint NOT NULL,             -- 1 plate, 2 face (SightingKind)
    camera_id     text NOT NULL,
    zone          text NOT NULL DEFAULT '',
    owner_agency  text NOT NULL DEFAULT '',
    seen          timestamptz NOT NULL,
    plate_key     text NOT NULL DEFAULT '',      -- canonical key (basira.common.plate_text)
    plate_display text NOT NULL DEFAULT '',
    plate_country text NOT NULL DEFAULT '',
    confidence    real NOT NULL DEFAULT 0,
    box_x         integer NOT NULL DEFAULT 0,
    box_y         integer NOT NULL DEFAULT 0,
    box_w         integer NOT NULL DEFAULT 0,
    box_h         integer NOT NULL DEFAULT 0,
    snapshot_id   text NOT NULL DEFAULT '',
    frame_id      text NOT NULL DEFAULT '',
    latitude      double precision,
    longitude     double precision,
    indexed_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX search_sightings_by_plate ON search_sightings (plate_key, seen, id);
CREATE INDEX search_sightings_by_time ON search_sightings (seen DESC, id DESC);
CREATE INDEX search_sightings_by_camera ON search_sightings (camera_id, seen DESC);
CREATE INDEX search_sightings_by_zone ON search_sightings (zone, seen DESC);
CREATE INDEX search_sightings_by_snapshot ON search_sightings (snapshot_id) WHERE snapshot_id <> '';

-- One row per distinct plate key: fuzzy search ranks keys, not sightings.
CREATE TABLE search_plate_keys (
    plate_key  text PRIMARY KEY,
    skeleton   text NOT NULL,                    -- look-alikes folded (confusable_skeleton)
    length     smallint NOT NULL,
    first_seen timestamptz NOT NULL
);
CREATE INDEX search_plate_keys_by_skeleton ON search_plate_keys (skeleton);
CREATE INDEX search_plate_keys_by_length ON search_plate_keys (length);

-- Bigrams of each key's padded skeleton (search/plate_index.py explains the bound).
CREATE TABLE search_plate_grams (
    gram      text NOT NULL,
    plate_key text NOT NULL REFERENCES search_plate_keys (plate_key) ON DELETE CASCADE,
    PRIMARY KEY (gram, plate_key)
);

CREATE TABLE search_snapshots (
    snapshot_id  text PRIMARY KEY,
    camera_id    text NOT NULL,
    zone         text NOT NULL DEFAULT '',
    owner_agency text NOT NULL DEFAULT '',
    seen         timestamptz NOT NULL,
    jpeg         bytea NOT NULL,
    created      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX search_snapshots_by_time ON search_snapshots (seen);

CREATE TABLE search_counts (
    camera_id text NOT NULL,
    minute    timestamptz NOT NULL,
    zone      text NOT NULL DEFAULT '',
    vehicles  integer NOT NULL DEFAULT 0,
    persons   integer NOT NULL DEFAULT 0,
    frames    integer NOT NULL DEFAULT 0,
    event_id  text NOT NULL DEFAULT '',
    updated   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (camera_id, minute)
);
CREATE INDEX search_counts_by_zone ON search_counts (zone, minute);
