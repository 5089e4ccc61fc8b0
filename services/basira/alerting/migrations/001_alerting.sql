-- Alerting: alert state per agency, which candidate events were applied, and who did what.

CREATE TABLE alerting_alerts (
    id                text PRIMARY KEY,
    kind              smallint NOT NULL,            -- AlertKind
    state             smallint NOT NULL,            -- AlertState
    agency            text NOT NULL,                -- the receiving agency (subject alerts.<agency>)
    zone              text NOT NULL DEFAULT '',
    camera_id         text NOT NULL DEFAULT '',
    target            text NOT NULL,                -- what was seen: entry:<id>, plate:<key>, face:<wl>/<subject>, health:<kind>
    raised            timestamptz NOT NULL,
    last_seen         timestamptz NOT NULL,
    sightings         integer NOT NULL DEFAULT 1,
    summary           text NOT NULL DEFAULT '',
    plate_pb          bytea NOT NULL DEFAULT '',    -- basira.v1.PlateReading
    entry_pb          bytea NOT NULL DEFAULT '',    -- basira.v1.HotlistEntry
    snapshot_id       text NOT NULL DEFAULT '',
    acknowledged_by   text[] NOT NULL DEFAULT '{}',
    confirmed_by      text[] NOT NULL DEFAULT '{}',
    escalated_to      text NOT NULL DEFAULT '',
    rejected_by       text NOT NULL DEFAULT '',
    actor             text NOT NULL DEFAULT '',
    version           integer NOT NULL DEFAULT 1,   -- bumped by every change
    published_version integer NOT NULL DEFAULT 0,   -- last version accepted by JetStream
    sequence          bigint NOT NULL DEFAULT 0,    -- ALERTS stream sequence of that publication
    updated           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alerting_alerts_dedupe ON alerting_alerts (agency, kind, camera_id, target, last_seen DESC);
CREATE INDEX alerting_alerts_open ON alerting_alerts (agency, sequence) WHERE state IN (1, 2, 3, 6);
CREATE INDEX alerting_alerts_unpublished ON alerting_alerts (updated) WHERE published_version < version;

-- Candidate/health event ids already applied for an agency: redelivery folds nothing twice.
CREATE TABLE alerting_applied (
    event_id text NOT NULL,
    agency   text NOT NULL,
    alert_id text NOT NULL REFERENCES alerting_alerts (id) ON DELETE CASCADE,
    applied  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, agency)
);

-- Every human action on an alert, with its note or reason.
CREATE TABLE alerting_actions (
    id       bigserial PRIMARY KEY,
    alert_id text NOT NULL REFERENCES alerting_alerts (id) ON DELETE CASCADE,
    action   text NOT NULL,
    actor    text NOT NULL,
    note     text NOT NULL DEFAULT '',
    at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alerting_actions_by_alert ON alerting_actions (alert_id, at);
