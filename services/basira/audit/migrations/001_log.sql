-- The access log (DESIGN §4): append-only leaves, persisted Merkle nodes, signed tree heads.
--
-- Idempotent: safe to run on every start. Append-only is enforced three ways:
--   1. triggers (ENABLE ALWAYS, so `session_replication_role = replica` does not skip them) reject
--      UPDATE, DELETE and TRUNCATE on every table here;
--   2. UPDATE, DELETE, TRUNCATE are revoked from PUBLIC;
--   3. roles: the tables belong to the migration role; the audit service should log in as a role that
--      is only a member of `basira_audit_writer` (SELECT, INSERT) and oversight/query tools as
--      members of `basira_audit_reader` (SELECT). The owner and superusers can still disable the
--      triggers: that is what the Merkle tree, the signed tree heads and the offline verifier are for.

DO $$
BEGIN
  IF current_setting('server_encoding') <> 'UTF8' THEN
    RAISE EXCEPTION 'the audit log needs a UTF8 database (canonical records are stored as text), got %',
      current_setting('server_encoding');
  END IF;
END $$;

-- One row per leaf. `canonical` is the exact canonical JSON whose SHA-256(0x00 || utf8) is leaf_hash;
-- `record` is the same record as jsonb for queries (NUL escapes, which jsonb cannot hold, are replaced
-- by U+FFFD in this copy only; `canonical` is the authority).
CREATE TABLE IF NOT EXISTS audit_leaves (
    idx          bigint      PRIMARY KEY CHECK (idx >= 0),
    record_id    text        NOT NULL,
    leaf_hash    bytea       NOT NULL CHECK (octet_length(leaf_hash) = 32),
    canonical    text        NOT NULL,
    record       jsonb       GENERATED ALWAYS AS (replace(canonical, '\u0000', '\ufffd')::jsonb) STORED,
    at           timestamptz,          -- the record's own `time`, parsed (NULL if unparsable)
    appended_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS audit_leaves_record_id ON audit_leaves (record_id);
CREATE INDEX IF NOT EXISTS audit_leaves_leaf_hash ON audit_leaves (leaf_hash);
CREATE INDEX IF NOT EXISTS audit_leaves_user ON audit_leaves ((record->>'user'), idx);
CREATE INDEX IF NOT EXISTS audit_leaves_agency ON audit_leaves ((record->>'agency'), idx);
CREATE INDEX IF NOT EXISTS audit_leaves_case ON audit_leaves ((record->>'case_id'), idx)
    WHERE record->>'case_id' <> '';
CREATE INDEX IF NOT EXISTS audit_leaves_action ON audit_leaves ((record->>'action'), idx);
CREATE INDEX IF NOT EXISTS audit_leaves_at ON audit_leaves (at);

-- Perfect interior nodes (level >= 1) of the tree, written as the leaves complete them; level-0
-- nodes are audit_leaves.leaf_hash. Any proof at any size is a handful of lookups here.
CREATE TABLE IF NOT EXISTS audit_nodes (
    level  smallint NOT NULL CHECK (level >= 1),
    idx    bigint   NOT NULL CHECK (idx >= 0),
    hash   bytea    NOT NULL CHECK (octet_length(hash) = 32),
    PRIMARY KEY (level, idx)
);

-- Signed tree heads, in the order they were signed (seq); sizes and timestamps never decrease.
CREATE TABLE IF NOT EXISTS audit_tree_heads (
    seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    log_id     text   NOT NULL,
    tree_size  bigint NOT NULL CHECK (tree_size >= 0),
    root_hash  bytea  NOT NULL CHECK (octet_length(root_hash) = 32),
    timestamp  bigint NOT NULL,       -- ms since the Unix epoch, as signed
    signature  bytea  NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_tree_heads_size ON audit_tree_heads (tree_size, seq);

CREATE OR REPLACE FUNCTION audit_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the audit log is append-only: % on % is not allowed', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END $$;

DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['audit_leaves', 'audit_nodes', 'audit_tree_heads'] LOOP
    EXECUTE format('DROP TRIGGER IF EXISTS %I ON %I', t || '_no_change', t);
    EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OR DELETE ON %I '
                   'FOR EACH ROW EXECUTE FUNCTION audit_reject_change()', t || '_no_change', t);
    EXECUTE format('ALTER TABLE %I ENABLE ALWAYS TRIGGER %I', t, t || '_no_change');
    EXECUTE format('DROP TRIGGER IF EXISTS %I ON %I', t || '_no_truncate', t);
    EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %I '
                   'FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_change()', t || '_no_truncate', t);
    EXECUTE format('ALTER TABLE %I ENABLE ALWAYS TRIGGER %I', t, t || '_no_truncate');
    EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON %I FROM PUBLIC', t);
  END LOOP;
END $$;

-- Group roles (NOLOGIN) for deployments to grant to the service's and tools' login roles. Needs
-- CREATEROLE; without it the tables still work and the notice says what to ask a DBA for.
DO $$
DECLARE
  r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['basira_audit_writer', 'basira_audit_reader'] LOOP
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
      BEGIN
        EXECUTE format('CREATE ROLE %I NOLOGIN', r);
      EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL;  -- roles are cluster-wide: another database's migration made it first
      END;
    END IF;
  END LOOP;
  GRANT SELECT, INSERT ON audit_leaves, audit_nodes, audit_tree_heads TO basira_audit_writer;
  GRANT SELECT ON audit_leaves, audit_nodes, audit_tree_heads TO basira_audit_reader;
EXCEPTION WHEN insufficient_privilege THEN
  RAISE NOTICE 'audit roles not created (no CREATEROLE); grant SELECT, INSERT on audit_* to the service';
END $$;
