-- The current pace of an import: when its last contact was settled, and a
-- moving average of the time between settlements while it runs.
ALTER TABLE imports
  ADD COLUMN last_settled_at timestamptz,
  ADD COLUMN settle_interval_s double precision;
