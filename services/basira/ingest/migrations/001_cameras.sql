-- Ingest: the camera registry, and who reads each camera's stream.
--
-- stream_wanted is what operators asked for (StartStream / StopStream); stream_state what the reader
-- last saw. An instance reading a stream holds a lease (stream_owner, stream_lease_until) and renews
-- it; a wanted stream with no live lease (after a crash or a restart) is claimed by any instance.

CREATE TABLE ingest_cameras (
    id                  text PRIMARY KEY,             -- [a-z0-9-]{2,64}; a NATS subject token
    name                text NOT NULL,
    kind                smallint NOT NULL,            -- basira.v1.CameraKind
    latitude            double precision,             -- WGS 84; NULL when the position is unknown
    longitude           double precision,
    zone                text NOT NULL,
    owner_agency        text NOT NULL,
    source_url          text NOT NULL DEFAULT '',     -- empty for pushed-frame cameras
    analysis_fps        double precision NOT NULL,
    loop                boolean NOT NULL DEFAULT false,
    decommissioned      boolean NOT NULL DEFAULT false,
    decommission_reason text NOT NULL DEFAULT '',
    stream_wanted       boolean NOT NULL DEFAULT false,
    stream_state        smallint NOT NULL DEFAULT 1,  -- basira.v1.StreamState (1 = STOPPED)
    stream_detail       text NOT NULL DEFAULT '',
    stream_owner        text NOT NULL DEFAULT '',     -- instance reading the stream, '' when none
    stream_lease_until  timestamptz,
    revision            integer NOT NULL DEFAULT 1,   -- bumped by every update: readers restart on it
    created             timestamptz NOT NULL DEFAULT now(),
    updated             timestamptz NOT NULL DEFAULT now(),
    CHECK (latitude IS NULL OR latitude BETWEEN -90 AND 90),
    CHECK (longitude IS NULL OR longitude BETWEEN -180 AND 180),
    CHECK (analysis_fps > 0 AND analysis_fps <= 30)
);

CREATE INDEX ingest_cameras_zone ON ingest_cameras (zone, id);
CREATE INDEX ingest_cameras_owner_agency ON ingest_cameras (owner_agency, id);
CREATE INDEX ingest_cameras_wanted ON ingest_cameras (stream_lease_until)
    WHERE stream_wanted AND NOT decommissioned;
