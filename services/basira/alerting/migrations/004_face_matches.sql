-- Face matches (issue 8): what matched (basira.v1.FaceMatch: watchlist, subject, distance, case,
-- authorization, detection, passage) travels with the alert to the command room.
ALTER TABLE alerting_alerts ADD COLUMN IF NOT EXISTS face_pb bytea NOT NULL DEFAULT '';
