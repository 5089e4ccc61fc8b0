-- The camera estate: where each camera is mounted, how it is powered, its last power report, and
-- the latest health state of each kind (for the list of cameras down per zone).

ALTER TABLE ingest_cameras ADD COLUMN site text NOT NULL DEFAULT '';              -- pole or site id
ALTER TABLE ingest_cameras ADD COLUMN power_source smallint NOT NULL DEFAULT 0;   -- basira.v1.PowerSource
ALTER TABLE ingest_cameras ADD COLUMN battery_percent smallint NOT NULL DEFAULT -1
    CHECK (battery_percent BETWEEN -1 AND 100);                                   -- -1: none reported
ALTER TABLE ingest_cameras ADD COLUMN power_state text NOT NULL DEFAULT '';       -- ok/low/critical/lost/unknown
ALTER TABLE ingest_cameras ADD COLUMN power_reported timestamptz;
CREATE INDEX ingest_cameras_site ON ingest_cameras (site) WHERE site <> '';

CREATE TABLE ingest_camera_health (
    camera_id text NOT NULL REFERENCES ingest_cameras (id) ON DELETE CASCADE,
    kind      text NOT NULL,                   -- stream, offline, blocked, defocused, moved, power
    state     text NOT NULL,                   -- as published on camera.health.<camera>
    detail    text NOT NULL DEFAULT '',
    since     timestamptz NOT NULL,
    PRIMARY KEY (camera_id, kind)
);
