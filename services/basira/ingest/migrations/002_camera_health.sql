-- The camera wall: each camera's latest health event per kind, folded from the HEALTH stream.
CREATE TABLE ingest_camera_health (
    camera_id       text NOT NULL,
    kind            text NOT NULL,          -- offline, blocked, defocused, moved, stream, power
    state           text NOT NULL,
    zone            text NOT NULL DEFAULT '',
    detail          text NOT NULL DEFAULT '',
    at              timestamptz,
    power_source    smallint NOT NULL DEFAULT 0,   -- basira.v1.PowerSource
    battery_percent integer NOT NULL DEFAULT -1,
    sequence        bigint NOT NULL,               -- HEALTH stream sequence of this event
    PRIMARY KEY (camera_id, kind)
);
