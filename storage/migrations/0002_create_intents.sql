-- A create sent to Pipedrive whose outcome is not yet recorded. Written and
-- committed before the request, removed in the transaction that stores the
-- new record's id: if one is still here, the process died (or the answer
-- was lost) after Pipedrive may have created the record, so delivery looks
-- it up before creating it again.
CREATE TABLE create_intents (
  account_id  text NOT NULL,
  contact_id  text NOT NULL,
  kind        text NOT NULL CHECK (kind IN ('person', 'lead')),
  started_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (account_id, contact_id, kind)
);
