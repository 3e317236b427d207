-- An import whose integration was disconnected before it finished: when,
-- and how many of its contacts were still queued and so dropped.
ALTER TABLE imports
  ADD COLUMN cancelled_at timestamptz,
  ADD COLUMN dropped bigint NOT NULL DEFAULT 0;
