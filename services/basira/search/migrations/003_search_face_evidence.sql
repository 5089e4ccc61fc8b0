-- Face sightings kept as evidence (issue 8): a face sighting two people confirmed as a watchlist match
-- is held past the short purge of unconfirmed faces, until the confirmed-match retention ends. One row
-- per confirmed sighting, recorded even if the confirmation arrives before the face is indexed.
CREATE TABLE search_face_holds (
    sighting_id  text PRIMARY KEY,                 -- search_faces.id (the matched face detection)
    alert_id     text NOT NULL,
    confirmed    timestamptz NOT NULL,
    created      timestamptz NOT NULL DEFAULT now()
);

-- Face sightings listed newest first (ListSightings kind FACE), keyset-paged on (seen, id).
CREATE INDEX search_faces_by_time_id ON search_faces (seen DESC, id DESC);
