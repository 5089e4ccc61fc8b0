-- The console's log browser and evidence bundles: filter by authorization and by evidence snapshot
-- without scanning the log (both stay fast at millions of records).
CREATE INDEX IF NOT EXISTS audit_leaves_authorization ON audit_leaves ((record->>'authorization_id'), idx)
    WHERE record->>'authorization_id' <> '';
CREATE INDEX IF NOT EXISTS audit_leaves_snapshot ON audit_leaves ((record->'resource'->>'snapshot_id'), idx)
    WHERE record->'resource' ? 'snapshot_id';
