-- Imports that link contacts to Persons already in Pipedrive (same primary
-- email) instead of creating new ones, and how many they linked. The last
-- batch time tells a stream that stopped without a word (its process died)
-- from one still arriving; `interrupted` records a stream that broke.
ALTER TABLE imports
  ADD COLUMN link_existing boolean NOT NULL DEFAULT false,
  ADD COLUMN linked bigint NOT NULL DEFAULT 0,
  ADD COLUMN last_batch_at timestamptz NOT NULL DEFAULT now(),
  ADD COLUMN interrupted boolean NOT NULL DEFAULT false;
-- Finds the contact a Person belongs to, before linking it to another.
CREATE INDEX contacts_person ON contacts (account_id, person_id)
  WHERE person_id IS NOT NULL;
