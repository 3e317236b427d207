-- One process at a time delivers an account's changes: it holds the
-- account's lease and renews it while it works. A process that dies stops
-- renewing, and another takes the account over once the lease expires.
CREATE TABLE account_leases (
  account_id  text PRIMARY KEY,
  owner       text NOT NULL,
  expires_at  timestamptz NOT NULL
);

-- A paused account is tried again from this moment on (402/403, or the
-- company's daily API budget spent).
ALTER TABLE integrations ADD COLUMN paused_until timestamptz;
