-- Up Migration
-- The HTTP API's own state: API keys (stored hashed) and idempotency records of POST requests.

-- One row per API key. Only the sha256 of the key is kept: keys are 32 random bytes, so the hash is safe to
-- store and the plaintext is shown once. A `wallet` key is bound to exactly one wallet; other roles to none.
CREATE TABLE api_keys (
  key_id      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  key_hash    text NOT NULL UNIQUE CHECK (key_hash ~ '^[0-9a-f]{64}$'),
  role        text NOT NULL CHECK (role IN ('admin', 'support', 'service', 'wallet')),
  wallet_id   uuid REFERENCES ledger_wallets (id),
  label       text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  revoked_at  timestamptz,
  CHECK ((role = 'wallet') = (wallet_id IS NOT NULL))
);

-- One row per (API key, Idempotency-Key). The row is the lock while the first request runs (in_progress,
-- claimed by INSERT … ON CONFLICT DO NOTHING) and then the record of its response (completed), which later
-- duplicates replay. Internal errors delete the claim so a retry runs again.
CREATE TABLE http_idempotency (
  principal_id      uuid NOT NULL REFERENCES api_keys (key_id),
  idempotency_key   text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 128),
  route             text NOT NULL,
  request_hash      text NOT NULL,
  state             text NOT NULL CHECK (state IN ('in_progress', 'completed')),
  response_status   int,
  response_body     jsonb,
  response_headers  jsonb,
  locked_at         timestamptz NOT NULL DEFAULT clock_timestamp(),
  created_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
  completed_at      timestamptz,
  PRIMARY KEY (principal_id, idempotency_key),
  CHECK ((state = 'completed') = (response_status IS NOT NULL AND completed_at IS NOT NULL))
);

-- For purging completed records past their retention.
CREATE INDEX http_idempotency_completed_at_idx ON http_idempotency (completed_at) WHERE state = 'completed';

-- Down Migration
DROP TABLE http_idempotency;
DROP TABLE api_keys;
