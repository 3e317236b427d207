-- Contacts of an import that a later import of the same account took over
-- while they were still queued: the later import settles and counts them.
ALTER TABLE imports ADD COLUMN superseded bigint NOT NULL DEFAULT 0;
