-- City scale: live follows, and what follow / crowd / congestion alerts carry.

ALTER TABLE alerting_alerts ADD COLUMN follow_id text NOT NULL DEFAULT '';
ALTER TABLE alerting_alerts ADD COLUMN count integer NOT NULL DEFAULT 0;      -- crowd/congestion: the minute's count
ALTER TABLE alerting_alerts ADD COLUMN threshold integer NOT NULL DEFAULT 0;  -- and the threshold it reached

-- One row per follow: an agency's order to be told each time a target is seen (alerting/follows.py).
CREATE TABLE alerting_follows (
    id             text PRIMARY KEY,
    agency         text NOT NULL,
    state          smallint NOT NULL,                 -- 1 active, 2 stopped, 3 expired (FollowState)
    target_kind    text NOT NULL,                     -- 'plate'
    target         text NOT NULL,                     -- canonical plate key
    started_by     text NOT NULL,
    context        jsonb NOT NULL,                    -- purpose, case_id, authorization of StartFollow
    expires        timestamptz NOT NULL,              -- the authorization's expiry
    zones          text[],                            -- NULL: no limit from policy
    cameras        text[],
    note           text NOT NULL DEFAULT '',
    started        timestamptz NOT NULL,
    stopped        timestamptz,
    stopped_by     text NOT NULL DEFAULT '',
    stop_reason    text NOT NULL DEFAULT '',
    sightings      integer NOT NULL DEFAULT 0,
    last_seen      timestamptz,
    last_camera_id text NOT NULL DEFAULT ''
);
CREATE INDEX alerting_follows_live ON alerting_follows (target_kind, target, expires) WHERE state = 1;
CREATE INDEX alerting_follows_by_agency ON alerting_follows (agency, started DESC);
