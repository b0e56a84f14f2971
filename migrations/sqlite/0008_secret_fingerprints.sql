-- Fingerprints of the secrets (SHA-256 of a domain tag and the secret, hex), so a reported
-- leaked secret finds its key with one indexed read instead of an argon2 hash per key. A secret
-- is 256 random bits, so its fingerprint can neither be reversed nor guessed. NULL for keys
-- made before fingerprints: those are found once they are rolled.
ALTER TABLE api_keys ADD COLUMN secret_fingerprint TEXT;
ALTER TABLE api_keys ADD COLUMN previous_secret_fingerprint TEXT;
CREATE INDEX api_keys_by_secret_fingerprint ON api_keys (secret_fingerprint);
CREATE INDEX api_keys_by_previous_secret_fingerprint ON api_keys (previous_secret_fingerprint);
