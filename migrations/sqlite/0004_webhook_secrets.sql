-- Webhook signing secrets: one row per team. The platform signs with them, so they are sealed
-- (AES-256-GCM under the master key, with the secret's id as associated data), never hashed.
-- previous_* is the secret a rotation replaced: it signs beside the current one until
-- previous_until, or until it is revoked (the columns are then NULL). version moves with every
-- write, so writers compare-and-swap on it.
CREATE TABLE webhook_secrets (
    team_slug            TEXT PRIMARY KEY REFERENCES teams (slug),
    version              BIGINT NOT NULL,
    current_id           TEXT NOT NULL,
    current_sealed       BLOB NOT NULL,
    current_created_at   TEXT NOT NULL,
    previous_id          TEXT,
    previous_sealed      BLOB,
    previous_created_at  TEXT,
    previous_until       TEXT,
    CHECK ((previous_id IS NULL) = (previous_sealed IS NULL)
       AND (previous_id IS NULL) = (previous_created_at IS NULL)
       AND (previous_id IS NULL) = (previous_until IS NULL))
);
