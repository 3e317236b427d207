-- When the company's users were last loaded, so that an unknown owner email
-- reloads them at most every few minutes.
ALTER TABLE integrations ADD COLUMN users_loaded_at timestamptz;
UPDATE integrations SET users_loaded_at = connected_at;
