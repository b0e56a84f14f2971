-- A check value of the master key the private signing keys are sealed under (an HMAC under the
-- key itself; it reveals nothing about it). Writers compare theirs before sealing anything, so a
-- node holding an old master key can never seal a new signing key with it. NULL until recorded.
ALTER TABLE signing_epoch ADD COLUMN master_key_check TEXT;
