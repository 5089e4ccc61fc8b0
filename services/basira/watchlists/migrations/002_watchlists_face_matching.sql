-- Live face matching (issue 8): each subject keeps the purpose, case and authorization it was enrolled
-- under (basira.v1.AccessContext), which every candidate it raises carries into the policy decision.
ALTER TABLE watchlists_subjects ADD COLUMN access_pb bytea NOT NULL DEFAULT '';
CREATE INDEX watchlists_embeddings_model ON watchlists_embeddings (model);
