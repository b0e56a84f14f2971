-- tokenmint schema, SQLite. Times are TEXT in RFC 3339 form (sqlx's chrono encoding).

-- Teams own API keys. The slug is the team's immutable public name.
CREATE TABLE teams (
    slug        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

-- API keys. The secret is kept only as an argon2id PHC string.
-- Deleting a row is how a key is revoked: the next token request finds nothing.
CREATE TABLE api_keys (
    client_id     TEXT PRIMARY KEY,
    team_slug     TEXT NOT NULL REFERENCES teams (slug),
    label         TEXT NOT NULL,
    env           TEXT NOT NULL CHECK (env IN ('live', 'test')),
    scopes        TEXT NOT NULL,            -- space-separated, as in the scope claim
    secret_hash   TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    expires_at    TEXT,
    last_used_at  TEXT
);
CREATE INDEX api_keys_by_team ON api_keys (team_slug, created_at);

-- Signing keys. The state (next, current, retired) is derived from activates_at and the other
-- keys' times; only revocation is recorded. sealed_private is AES-256-GCM under the master key,
-- NULL once the key can never sign again.
CREATE TABLE signing_keys (
    kid             TEXT PRIMARY KEY,
    alg             TEXT NOT NULL,
    public_jwk      TEXT NOT NULL,
    sealed_private  BLOB,
    created_at      TEXT NOT NULL,
    activates_at    TEXT NOT NULL,
    revoked_at      TEXT
);

-- One row whose epoch moves with every change to signing_keys: servers poll it to notice changes,
-- and writers compare-and-swap it so that two concurrent rotations cannot both land.
CREATE TABLE signing_epoch (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    epoch  BIGINT NOT NULL
);
INSERT INTO signing_epoch (id, epoch) VALUES (1, 0);
