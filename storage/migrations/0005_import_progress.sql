-- What became of an import's contacts, for GetImport. Contacts still to be
-- delivered are counted from the queue.
ALTER TABLE imports
  ADD COLUMN created bigint NOT NULL DEFAULT 0,
  ADD COLUMN updated bigint NOT NULL DEFAULT 0,
  ADD COLUMN unchanged bigint NOT NULL DEFAULT 0,
  ADD COLUMN failed bigint NOT NULL DEFAULT 0;
CREATE INDEX sync_queue_import ON sync_queue (import_id)
  WHERE import_id IS NOT NULL;
