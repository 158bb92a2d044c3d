-- Up Migration
-- One row per generation, written by the generation workflow's activities: what was asked, what it was
-- quoted, how it settled. The ledger holds the money; this table holds the story an end user and support read.
CREATE TABLE generations (
  generation_id       text PRIMARY KEY CHECK (length(generation_id) BETWEEN 1 AND 200),
  wallet_id           uuid NOT NULL,
  user_id             text NOT NULL,
  feature             text NOT NULL,
  params              jsonb NOT NULL,
  platform            text NOT NULL CHECK (platform IN ('ios', 'android', 'web', 'api')),
  context             text,
  status              text NOT NULL CHECK (status IN ('reserved', 'captured', 'partially_captured', 'released', 'rejected')),
  price_book_version  text NOT NULL,
  cost_credits        bigint NOT NULL CHECK (cost_credits > 0),
  quote               jsonb NOT NULL,
  hold_id             uuid,
  outcome             jsonb,
  settlement          jsonb,
  failure_reason      text,
  rejection           jsonb,
  created_at          timestamptz NOT NULL DEFAULT now(),
  reserved_at         timestamptz,
  settled_at          timestamptz,
  updated_at          timestamptz NOT NULL DEFAULT now(),
  CHECK ((status = 'rejected') = (hold_id IS NULL)),
  CHECK ((status IN ('reserved', 'rejected')) = (settled_at IS NULL))
);

CREATE INDEX generations_wallet_created_idx ON generations (wallet_id, created_at DESC, generation_id DESC);

-- Down Migration
DROP TABLE generations;
