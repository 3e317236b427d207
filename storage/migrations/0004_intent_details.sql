-- Several creates of one contact can be in doubt at once, each with the
-- name and primary email or phone it sent, which is what a later attempt
-- searches Pipedrive for. A 'deletion' intent marks a delete sent to
-- Pipedrive whose outcome is not yet recorded: a record then missing was
-- removed by us, not by the sales team.
ALTER TABLE create_intents DROP CONSTRAINT create_intents_pkey;
ALTER TABLE create_intents DROP CONSTRAINT create_intents_kind_check;
ALTER TABLE create_intents
  ADD COLUMN id bigserial PRIMARY KEY,
  ADD COLUMN name text NOT NULL DEFAULT '',
  ADD COLUMN email text NOT NULL DEFAULT '',
  ADD COLUMN phone text NOT NULL DEFAULT '',
  ADD CONSTRAINT create_intents_kind_check
    CHECK (kind IN ('person', 'lead', 'deletion'));
CREATE INDEX create_intents_contact
  ON create_intents (account_id, contact_id, kind);
