-- The camera estate: where each camera is mounted, how it is powered, its last power report.

ALTER TABLE ingest_cameras ADD COLUMN site text NOT NULL DEFAULT '';              -- pole or site id
ALTER TABLE ingest_cameras ADD COLUMN power_source smallint NOT NULL DEFAULT 0;   -- basira.v1.PowerSource
ALTER TABLE ingest_cameras ADD COLUMN battery_percent smallint NOT NULL DEFAULT -1
    CHECK (battery_percent BETWEEN -1 AND 100);                                   -- -1: none reported
ALTER TABLE ingest_cameras ADD COLUMN power_state text NOT NULL DEFAULT '';       -- ok/low/critical/lost/unknown
ALTER TABLE ingest_cameras ADD COLUMN power_reported timestamptz;
CREATE INDEX ingest_cameras_site ON ingest_cameras (site) WHERE site <> '';

-- The latest health state of each kind lives in ingest_camera_health (002_camera_health.sql), written
-- when ingest publishes a change and by the HEALTH stream's fold consumer (health_state.py).
