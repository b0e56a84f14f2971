-- The audit log: one row per state change (team created, API key created or deleted, signing
-- keys rotated or revoked, master key rotated), written in the same transaction as the change.
-- Rows are only ever appended. `actor` is the Client ID of the admin token that asked, `cli`, or
-- `system` for scheduled maintenance; `detail` is a JSON object and never holds a secret.
CREATE TABLE audit_events (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          TIMESTAMPTZ NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    team_slug   TEXT,                       -- NULL for changes that belong to no team
    target      TEXT NOT NULL,
    source_ip   TEXT,                       -- NULL unless the change came over HTTP
    detail      TEXT NOT NULL
);
CREATE INDEX audit_events_by_team ON audit_events (team_slug, id);
