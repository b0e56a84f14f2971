-- Per-key limits, each NULL for the issuer's default: token_ttl_seconds caps the lifetime of the
-- key's tokens (never above token.ttl, which still applies), token_requests_per_second overrides
-- rate_limit.token_requests_per_second for this key.
ALTER TABLE api_keys ADD COLUMN token_ttl_seconds INTEGER CHECK (token_ttl_seconds > 0);
ALTER TABLE api_keys ADD COLUMN token_requests_per_second INTEGER CHECK (token_requests_per_second > 0);
-- The age and expiry filters and the hygiene metrics read keys by these times across teams.
CREATE INDEX api_keys_by_created_at ON api_keys (created_at);
CREATE INDEX api_keys_by_expires_at ON api_keys (expires_at) WHERE expires_at IS NOT NULL;
