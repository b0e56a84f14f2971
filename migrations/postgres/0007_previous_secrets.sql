-- A rolled key's previous secret: it keeps working beside the new one until
-- previous_secret_expires_at, or until the roll is finished (both columns are then NULL). Kept,
-- like the current one, only as an argon2id PHC string.
ALTER TABLE api_keys ADD COLUMN previous_secret_hash TEXT;
ALTER TABLE api_keys ADD COLUMN previous_secret_expires_at TIMESTAMPTZ;
