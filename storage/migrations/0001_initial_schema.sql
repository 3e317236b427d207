-- Integrations, Pipedrive users, contact mappings, and the delivery queue.

CREATE TABLE integrations (
  account_id          text PRIMARY KEY,
  state               text NOT NULL
                      CHECK (state IN ('connected', 'needs_reconnect',
                                       'disconnected', 'paused')),
  paused_reason       text NOT NULL DEFAULT '',
  company_id          bigint,
  company_name        text NOT NULL DEFAULT '',
  company_domain      text NOT NULL DEFAULT '',
  pipedrive_user_id   bigint,
  api_domain          text NOT NULL DEFAULT '',
  -- Tokens are encrypted by the service (AES-256-GCM, key id inside).
  access_token_enc    text,
  refresh_token_enc   text,
  access_expires_at   timestamptz,
  -- Bumped on every token change, so a caller can tell whether another
  -- process refreshed since it read the token.
  token_generation    bigint NOT NULL DEFAULT 0,
  auto_sync           boolean NOT NULL DEFAULT false,
  channel_option_id   bigint,
  connected_at        timestamptz,
  disconnected_at     timestamptz,
  last_success_at     timestamptz,
  last_error          text NOT NULL DEFAULT '',
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now()
);

-- The Pipedrive company's active users, for owner matching by email.
CREATE TABLE pipedrive_users (
  account_id   text NOT NULL REFERENCES integrations ON DELETE CASCADE,
  email_lower  text NOT NULL,
  user_id      bigint NOT NULL,
  PRIMARY KEY (account_id, email_lower)
);

-- One row per Wave contact ever seen: its Pipedrive records, versions, what
-- was last written, and the deletion tombstone.
CREATE TABLE contacts (
  account_id         text NOT NULL,
  contact_id         text NOT NULL,
  latest_version     bigint NOT NULL,
  synced_version     bigint NOT NULL DEFAULT 0,
  deleted_version    bigint,
  person_id          bigint,
  lead_id            text,
  -- The lead was archived, converted or deleted by the sales team: it is
  -- never edited or recreated again.
  lead_gone          boolean NOT NULL DEFAULT false,
  written_person     jsonb,
  written_lead       jsonb,
  owner_matched      boolean NOT NULL DEFAULT false,
  owner_note         text NOT NULL DEFAULT '',
  failed_version     bigint,
  last_error         text NOT NULL DEFAULT '',
  last_error_action  text NOT NULL DEFAULT '',
  updated_at         timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (account_id, contact_id)
);

-- Changes waiting for delivery: at most one per contact, the newest, since
-- a newer version supersedes an older one.
CREATE TABLE sync_queue (
  account_id       text NOT NULL,
  contact_id       text NOT NULL,
  version          bigint NOT NULL,
  kind             text NOT NULL CHECK (kind IN ('upsert', 'delete')),
  payload          jsonb,
  source           text NOT NULL DEFAULT 'realtime'
                   CHECK (source IN ('realtime', 'import')),
  import_id        text,
  enqueued_at      timestamptz NOT NULL DEFAULT now(),
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  last_error       text NOT NULL DEFAULT '',
  PRIMARY KEY (account_id, contact_id)
);

CREATE INDEX sync_queue_due ON sync_queue (next_attempt_at);

CREATE TABLE imports (
  import_id   text PRIMARY KEY,
  account_id  text NOT NULL,
  started_at  timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  accepted    bigint NOT NULL DEFAULT 0,
  rejected    bigint NOT NULL DEFAULT 0
);

CREATE INDEX imports_account ON imports (account_id, started_at);
