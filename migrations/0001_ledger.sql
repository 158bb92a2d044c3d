-- Up Migration

-- The credit ledger (architecture §2). Every mutation is ONE call of a plpgsql function below taking and
-- returning jsonb: one round trip and one implicit transaction per operation. Refusals RAISE with SQLSTATE
-- LDG01, which rolls the whole statement back: a refused operation leaves no trace.
--
-- Concurrency. Row locks are taken in one global order, so operations cannot deadlock: (1) the hold row,
-- by a guarded update (settlements and refunds of one hold serialize there); (2) lot rows, always in
-- consumption order (expires_at, kind_rank, granted_at, id — immutable columns, so every operation agrees).
-- Wallet rows are never locked: money lives in lots. Lot counters only change through guarded relative
-- updates (`… WHERE available >= n AND usable`), which Postgres re-checks on the latest row version, so two
-- requests racing for the last credits can never both win. To keep the contended window as short as a
-- single-statement debit, an operation plans from a plain read, writes its own rows (hold, allocations,
-- journal, operation + result) and touches the shared lot rows LAST; if a guard fails because the plan went
-- stale, it raises LDG03 and the caller retries (reservations lock their lots up front after two stale
-- plans). Idempotency: the operation row is inserted once, with its result; a concurrent duplicate blocks
-- on the key's unique index entry until the first commits, then retries and replays. (The only lock-order
-- exception is one key reused concurrently for two different operations — a client bug that ends as an
-- IdempotencyConflict; Postgres' deadlock detector breaks the tie and the caller's retry reports it.)
--
-- CHECK constraints. The row rules below are written as plain CHECKs for reading; 0005_ledger_compact_checks
-- restates those of lots, holds and journal as one function-based CHECK per table, and kind_rank as a plain
-- column set on insert (same rules, far cheaper per statement).
--
-- Plans. plpgsql caches a generic plan per statement and session, costed on the statistics of the moment
-- it was made; a table that was nearly empty then (a fresh deployment, a benchmark's first seconds) gets a
-- sequential scan (or a scan of a partial index) that is kept while the table grows — measured: the
-- idempotency probe at ~0.45 ms per call, growing. Every statement here is a handful of primary-key (or
-- consumption-index) probes, so the operation functions run with `SET enable_seqscan = off`: their plans
-- stay index probes whatever the statistics said.

CREATE TABLE ledger_wallets (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  owner_type  text NOT NULL CHECK (owner_type IN ('user', 'organization')),
  owner_id    text NOT NULL,
  status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'closed')),
  created_at  timestamptz NOT NULL DEFAULT now(),
  closed_at   timestamptz,
  UNIQUE (owner_type, owner_id)
);

CREATE TABLE ledger_organization_members (
  organization_id text NOT NULL,
  user_id         text NOT NULL,
  role            text NOT NULL DEFAULT 'member',
  added_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (organization_id, user_id)
);
CREATE INDEX ledger_organization_members_user ON ledger_organization_members (user_id);

-- One row per accepted mutation, with the result a replay returns.
-- Keyed by the idempotency key alone: the operation id is referenced by journal rows but looked up only by
-- the audit, so it does not get an index of its own (one index insertion less per operation).
CREATE TABLE ledger_operations (
  idempotency_key text PRIMARY KEY,
  id              uuid NOT NULL,
  operation       text NOT NULL,
  request_hash    text NOT NULL,
  wallet_id       uuid,
  result          jsonb NOT NULL,
  created_at      timestamptz NOT NULL
);

CREATE TABLE ledger_lots (
  id            uuid PRIMARY KEY DEFAULT uuidv7(),  -- time-ordered: index insertions stay on the right edge
  wallet_id     uuid NOT NULL REFERENCES ledger_wallets (id),
  kind          text NOT NULL CHECK (kind IN ('promotional', 'membership', 'purchased', 'bulk', 'refund', 'adjustment')),
  -- Tie-break of the consumption order at equal expiry: promotional → membership → purchased/bulk → others.
  kind_rank     smallint GENERATED ALWAYS AS (CASE kind WHEN 'promotional' THEN 0 WHEN 'membership' THEN 1
                  WHEN 'purchased' THEN 2 WHEN 'bulk' THEN 2 ELSE 3 END) STORED,
  status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'expired', 'revoked')),
  granted_at    timestamptz NOT NULL,
  expires_at    timestamptz NOT NULL,
  granted       bigint NOT NULL CHECK (granted > 0),
  available     bigint NOT NULL CHECK (available >= 0),
  held          bigint NOT NULL DEFAULT 0 CHECK (held >= 0),
  consumed      bigint NOT NULL DEFAULT 0 CHECK (consumed >= 0),
  expired       bigint NOT NULL DEFAULT 0 CHECK (expired >= 0),
  revoked       bigint NOT NULL DEFAULT 0 CHECK (revoked >= 0),
  purchase_id             text,
  subscription_period_id  text,
  promo_id                text,
  refund_request_id       text,
  source_hold_id          uuid,
  operation_id  uuid NOT NULL,
  closed_at     timestamptz,
  CONSTRAINT ledger_lots_conservation CHECK (granted = available + held + consumed + expired + revoked),
  CHECK (expires_at > granted_at)
) WITH (fillfactor = 70);  -- room for HOT updates: counters change often and are not indexed
-- The predicate names only `status` (rarely changed): a counter in it would disable HOT updates.
CREATE INDEX ledger_lots_consumption ON ledger_lots (wallet_id, expires_at, kind_rank, granted_at, id)
  WHERE status = 'active';
CREATE INDEX ledger_lots_wallet ON ledger_lots (wallet_id);

-- The per-allocation rules of a hold (what the allocation table's CHECK constraints said): at least one
-- allocation; arrays of one length; each amount > 0 with a lot; captured, released, refunded ≥ 0;
-- captured + released ≤ amount; refunded ≤ captured. plpgsql with plain expressions only: cheap per row.
CREATE FUNCTION ledger_allocations_valid(p_lots uuid[], p_amounts bigint[], p_captured bigint[],
  p_released bigint[], p_refunded bigint[]) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  n int := coalesce(array_length(p_lots, 1), 0);
  c bigint; r bigint; f bigint;
BEGIN
  IF n = 0 OR array_ndims(p_lots) <> 1 OR array_ndims(p_amounts) <> 1 OR array_lower(p_lots, 1) <> 1
     OR array_lower(p_amounts, 1) <> 1 OR array_length(p_amounts, 1) <> n
     OR (p_captured IS NOT NULL AND (array_ndims(p_captured) <> 1 OR array_lower(p_captured, 1) <> 1 OR array_length(p_captured, 1) <> n))
     OR (p_released IS NOT NULL AND (array_ndims(p_released) <> 1 OR array_lower(p_released, 1) <> 1 OR array_length(p_released, 1) <> n))
     OR (p_refunded IS NOT NULL AND (array_ndims(p_refunded) <> 1 OR array_lower(p_refunded, 1) <> 1 OR array_length(p_refunded, 1) <> n)) THEN
    RETURN false;
  END IF;
  FOR i IN 1 .. n LOOP
    c := coalesce(p_captured[i], 0); r := coalesce(p_released[i], 0); f := coalesce(p_refunded[i], 0);
    IF p_lots[i] IS NULL OR p_amounts[i] IS NULL OR p_amounts[i] <= 0 OR c < 0 OR r < 0 OR f < 0
       OR c + r > p_amounts[i] OR f > c THEN
      RETURN false;
    END IF;
  END LOOP;
  RETURN true;
END $$;

-- Splits a capture over allocations in order (soonest-expiring lots are charged first): the captured part
-- of each (p_rest = false) or what is released of each (p_rest = true).
CREATE FUNCTION ledger_split_capture(p_amounts bigint[], p_capture bigint, p_rest boolean) RETURNS bigint[]
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  v_out bigint[] := '{}'; v_left bigint := p_capture; c bigint;
BEGIN
  FOR i IN 1 .. array_length(p_amounts, 1) LOOP
    c := least(p_amounts[i], v_left); v_left := v_left - c;
    v_out := v_out || CASE WHEN p_rest THEN p_amounts[i] - c ELSE c END;
  END LOOP;
  RETURN v_out;
END $$;

CREATE TABLE ledger_holds (
  id            uuid PRIMARY KEY,
  -- No foreign keys from the hot tables (holds, journal): their KEY SHARE locks on the wallet
  -- and lot rows would turn every hot-wallet operation into a MultiXact. Only the ledger functions write
  -- these tables, and the audit checks every reference.
  wallet_id     uuid NOT NULL,
  state         text NOT NULL CHECK (state IN ('pending', 'captured', 'released', 'expired')),
  amount        bigint NOT NULL CHECK (amount > 0),
  captured      bigint NOT NULL DEFAULT 0 CHECK (captured >= 0),
  released      bigint NOT NULL DEFAULT 0 CHECK (released >= 0),
  refunded      bigint NOT NULL DEFAULT 0 CHECK (refunded >= 0),
  expires_at    timestamptz NOT NULL,
  generation_id text,
  created_at    timestamptz NOT NULL,
  resolved_at   timestamptz,
  operation_id  uuid NOT NULL,
  -- The per-lot allocations, in consumption order (element i of each array is allocation i): written with
  -- the hold, settled by the update that resolves it, refunded by the refund's update — no row of their
  -- own to insert and update. alloc_captured/alloc_released are NULL while pending, alloc_refunded until
  -- the first refund (NULL reads as zeros). The view ledger_hold_allocations shows them as rows.
  alloc_lots     uuid[] NOT NULL,
  alloc_amounts  bigint[] NOT NULL,
  alloc_captured bigint[],
  alloc_released bigint[],
  alloc_refunded bigint[],
  CHECK (refunded <= captured),
  CHECK ((state = 'pending' AND captured = 0 AND released = 0 AND resolved_at IS NULL)
      OR (state <> 'pending' AND captured + released = amount AND resolved_at IS NOT NULL)),
  CONSTRAINT ledger_holds_allocations CHECK (ledger_allocations_valid(alloc_lots, alloc_amounts, alloc_captured,
    alloc_released, alloc_refunded))
);
-- Every index on the hot tables costs each reservation and settlement an insertion, so there are only
-- the ones a query needs: pending holds by expiry (the sweeper) and the journal by wallet. (No index on
-- holds.generation_id: nothing looks holds up by generation, and every production reservation carries one.)
-- The predicate is `resolved_at IS NULL` (⇔ pending, by the CHECK above) rather than `state = 'pending'`: the
-- settlement's `WHERE id = … AND state = 'pending'` must not be able to pick this index (a full scan of every
-- pending hold) over the primary key.
CREATE INDEX ledger_holds_pending_expiry ON ledger_holds (expires_at) WHERE resolved_at IS NULL;

-- Allocations as rows (for the audit and getHold): one per hold and lot, seq = position in the arrays.
CREATE VIEW ledger_hold_allocations AS
  SELECT h.id AS hold_id, u.seq::int AS seq, u.lot_id, u.amount,
         coalesce(h.alloc_captured[u.seq::int], 0) AS captured,
         coalesce(h.alloc_released[u.seq::int], 0) AS released,
         coalesce(h.alloc_refunded[u.seq::int], 0) AS refunded
  FROM ledger_holds h
  CROSS JOIN LATERAL unnest(h.alloc_lots, h.alloc_amounts) WITH ORDINALITY AS u(lot_id, amount, seq);

-- One row per movement per lot. d_* are the deltas the row applied to its lot's counters; the audit
-- recomputes every counter from them and checks each row's deltas against its kind.
CREATE TABLE ledger_journal (
  -- Unique by construction (GENERATED ALWAYS: no caller can supply it). No primary-key index: nothing
  -- looks an entry up by id alone, and each index is one more insertion per journal row; pages are read
  -- through (wallet_id, id).
  id              bigint GENERATED ALWAYS AS IDENTITY,
  operation_id    uuid NOT NULL,
  idempotency_key text NOT NULL,
  kind            text NOT NULL CHECK (kind IN ('grant', 'hold', 'capture', 'release', 'refund', 'expire', 'revoke', 'adjust')),
  amount          bigint NOT NULL CHECK (amount > 0),
  wallet_id       uuid NOT NULL,
  lot_id          uuid NOT NULL,
  hold_id         uuid,
  d_available     bigint NOT NULL DEFAULT 0,
  d_held          bigint NOT NULL DEFAULT 0,
  d_consumed      bigint NOT NULL DEFAULT 0,
  d_expired       bigint NOT NULL DEFAULT 0,
  d_revoked       bigint NOT NULL DEFAULT 0,
  generation_id           text,
  refund_request_id       text,
  purchase_id             text,
  subscription_period_id  text,
  actor           text,
  reason          text,
  created_at      timestamptz NOT NULL
);
CREATE INDEX ledger_journal_wallet ON ledger_journal (wallet_id, id);

-- Append-only: a mistake is fixed by a new, correcting entry, never by rewriting history.
CREATE FUNCTION ledger_journal_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only (% refused)', TG_TABLE_NAME, TG_OP USING ERRCODE = 'LDG02';
END $$;
CREATE TRIGGER ledger_journal_no_update BEFORE UPDATE OR DELETE ON ledger_journal
  FOR EACH ROW EXECUTE FUNCTION ledger_journal_immutable();
CREATE TRIGGER ledger_journal_no_truncate BEFORE TRUNCATE ON ledger_journal
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_journal_immutable();

-- Operations are written once, complete with their result, and never change.
CREATE TRIGGER ledger_operations_no_update BEFORE UPDATE OR DELETE ON ledger_operations
  FOR EACH ROW EXECUTE FUNCTION ledger_journal_immutable();
CREATE TRIGGER ledger_operations_no_truncate BEFORE TRUNCATE ON ledger_operations
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_journal_immutable();

---------------------------------------------------------------------------------------------------------
-- Helpers
---------------------------------------------------------------------------------------------------------

CREATE FUNCTION ledger_raise(p_code text, p_details jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION USING ERRCODE = 'LDG01', MESSAGE = p_code, DETAIL = p_details::text;
END $$;

-- A plan went stale between its read and its guarded update: the caller retries the whole operation.
CREATE FUNCTION ledger_retry(p_what text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION USING ERRCODE = 'LDG03', MESSAGE = 'Retry', DETAIL = p_what;
END $$;

-- Idempotency, first half: a key already used returns its first result (same content) or refuses
-- (different content); NULL for a fresh key (the row itself is written by ledger_op_finish). Called as a
-- plain expression (not SELECT … FROM f()), which plpgsql evaluates much more cheaply.
CREATE FUNCTION ledger_op_begin(p jsonb, p_operation text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  v_existing ledger_operations;
BEGIN
  SELECT * INTO v_existing FROM ledger_operations WHERE idempotency_key = p->>'key';
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  IF v_existing.operation <> p_operation OR v_existing.request_hash <> p->>'hash' THEN
    PERFORM ledger_raise('IdempotencyConflict', jsonb_build_object(
      'idempotencyKey', p->>'key', 'firstOperation', v_existing.operation, 'operation', p_operation));
  END IF;
  RETURN v_existing.result || jsonb_build_object('replayed', true);
END $$;

-- Idempotency, second half: records the operation with its result, once. If a concurrent request with
-- the same key got there first, the unique index makes us wait for it, then raises unique_violation on
-- ledger_operations_pkey; the caller retries and the retry replays its result (our own work is rolled
-- back with the error). A plain INSERT, not ON CONFLICT: speculative insertion costs an extra WAL record
-- and index pass on every operation, for a race that ends in a retry either way.
CREATE FUNCTION ledger_op_finish(p_op uuid, p jsonb, p_operation text, p_wallet uuid, p_result jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO ledger_operations (id, idempotency_key, operation, request_hash, wallet_id, result, created_at)
  VALUES (p_op, p->>'key', p_operation, p->>'hash', p_wallet, p_result, (p->>'now')::timestamptz);  -- key taken concurrently: see ledger_op_finish
  RETURN p_result || jsonb_build_object('replayed', false);
END $$;

-- Existence and status, read without a lock (wallet rows are never locked; see the header). A wallet
-- closed concurrently with a grant or reservation simply orders that operation before the closing.
CREATE FUNCTION ledger_check_wallet(p_wallet uuid, p_require_active boolean) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_status text;
BEGIN
  SELECT status INTO v_status FROM ledger_wallets WHERE id = p_wallet;
  IF NOT FOUND THEN
    PERFORM ledger_raise('WalletNotFound', jsonb_build_object('walletId', p_wallet));
  END IF;
  IF p_require_active AND v_status <> 'active' THEN
    PERFORM ledger_raise('WalletClosed', jsonb_build_object('walletId', p_wallet));
  END IF;
END $$;

-- Journal rows for one operation, one per lot: d_x = sign_x × amount (signs in -1, 0, 1).
-- plpgsql rather than SQL so that the INSERT's plan is cached per session.
CREATE FUNCTION ledger_journal_rows(p_op uuid, p jsonb, p_kind text, p_wallet uuid, p_hold uuid,
  p_lots uuid[], p_amounts bigint[], p_sa int, p_sh int, p_sc int, p_se int, p_sr int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO ledger_journal (operation_id, idempotency_key, kind, amount, wallet_id, lot_id, hold_id,
    d_available, d_held, d_consumed, d_expired, d_revoked,
    generation_id, refund_request_id, purchase_id, subscription_period_id, actor, reason, created_at)
  SELECT p_op, p->>'key', p_kind, u.amount, p_wallet, u.lot, p_hold,
    p_sa * u.amount, p_sh * u.amount, p_sc * u.amount, p_se * u.amount, p_sr * u.amount,
    p->'refs'->>'generation_id', p->'refs'->>'refund_request_id', p->'refs'->>'purchase_id',
    p->'refs'->>'subscription_period_id', p->'refs'->>'actor', p->'refs'->>'reason', (p->>'now')::timestamptz
  FROM unnest(p_lots, p_amounts) AS u(lot, amount)
  WHERE u.amount > 0;
END $$;

-- A new lot with all its credits available, and its journal row (kind: grant, refund or adjust).
CREATE FUNCTION ledger_new_lot(p_op uuid, p jsonb, p_wallet uuid, p_kind text, p_amount bigint,
  p_expires_at timestamptz, p_journal_kind text, p_hold uuid) RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE
  v_lot uuid;
BEGIN
  INSERT INTO ledger_lots (wallet_id, kind, granted_at, expires_at, granted, available,
    purchase_id, subscription_period_id, promo_id, refund_request_id, source_hold_id, operation_id)
  VALUES (p_wallet, p_kind, (p->>'now')::timestamptz, p_expires_at, p_amount, p_amount,
    p->'refs'->>'purchase_id', p->'refs'->>'subscription_period_id', p->'refs'->>'promo_id',
    p->'refs'->>'refund_request_id', p_hold, p_op)
  RETURNING id INTO v_lot;
  PERFORM ledger_journal_rows(p_op, p, p_journal_kind, p_wallet, p_hold, ARRAY[v_lot], ARRAY[p_amount], 1, 0, 0, 0, 0);
  RETURN v_lot;
END $$;

-- Plans taking p_amount credits from the wallet's usable lots in consumption order. Optimistic: a plain
-- read (the guarded updates later re-check it). Locking: locks the lots in that order as it goes (used
-- after stale plans, and by negative adjustments). `planned` < p_amount means the wallet cannot afford it.
CREATE TYPE ledger_take_plan AS (lots uuid[], amounts bigint[], planned bigint);

-- Returns a composite (not OUT parameters) so that callers can assign it as a plain expression.
CREATE FUNCTION ledger_plan_take(p_wallet uuid, p_now timestamptz, p_amount bigint, p_locking boolean)
RETURNS ledger_take_plan LANGUAGE plpgsql AS $$
DECLARE
  v_lot record;
  lots uuid[] := '{}'; amounts bigint[] := '{}'; planned bigint := 0;
BEGIN
  IF p_locking THEN
    FOR v_lot IN SELECT id, available FROM ledger_lots
      WHERE wallet_id = p_wallet AND status = 'active' AND available > 0 AND expires_at > p_now
      ORDER BY expires_at, kind_rank, granted_at, id FOR NO KEY UPDATE
    LOOP
      lots := lots || v_lot.id; amounts := amounts || least(v_lot.available, p_amount - planned);
      planned := planned + least(v_lot.available, p_amount - planned);
      EXIT WHEN planned = p_amount;
    END LOOP;
  ELSE
    FOR v_lot IN SELECT id, available FROM ledger_lots
      WHERE wallet_id = p_wallet AND status = 'active' AND available > 0 AND expires_at > p_now
      ORDER BY expires_at, kind_rank, granted_at, id
    LOOP
      lots := lots || v_lot.id; amounts := amounts || least(v_lot.available, p_amount - planned);
      planned := planned + least(v_lot.available, p_amount - planned);
      EXIT WHEN planned = p_amount;
    END LOOP;
  END IF;
  RETURN ROW(lots, amounts, planned)::ledger_take_plan;
END $$;

-- Applies a take plan: guarded relative updates, one per lot, in consumption order (the lock order).
-- p_to: 'held' (reservation) or 'revoked' (negative adjustment). A failed guard means the plan is stale.
CREATE FUNCTION ledger_apply_take(p_lots uuid[], p_amounts bigint[], p_now timestamptz, p_to text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1 .. coalesce(array_length(p_lots, 1), 0) LOOP
    UPDATE ledger_lots SET available = available - p_amounts[i],
      held = held + CASE WHEN p_to = 'held' THEN p_amounts[i] ELSE 0 END,
      revoked = revoked + CASE WHEN p_to = 'revoked' THEN p_amounts[i] ELSE 0 END
    WHERE id = p_lots[i] AND available >= p_amounts[i] AND status = 'active' AND expires_at > p_now;
    IF NOT FOUND THEN PERFORM ledger_retry('lot ' || p_lots[i]); END IF;
  END LOOP;
END $$;

---------------------------------------------------------------------------------------------------------
-- Operations
---------------------------------------------------------------------------------------------------------

CREATE FUNCTION ledger_grant(p jsonb) RETURNS jsonb LANGUAGE plpgsql
  SET enable_seqscan = off  -- see "Plans" in the header
AS $$
DECLARE
  v_op uuid; v_prior jsonb; v_lot uuid;
  v_wallet uuid := (p->>'wallet_id')::uuid;
BEGIN
  v_op := uuidv7();
  v_prior := ledger_op_begin(p, 'grant');
  IF v_prior IS NOT NULL THEN RETURN v_prior; END IF;
  PERFORM ledger_check_wallet(v_wallet, true);
  v_lot := ledger_new_lot(v_op, p, v_wallet, p->>'kind', (p->>'amount')::bigint,
    (p->>'expires_at')::timestamptz, 'grant', NULL);
  RETURN ledger_op_finish(v_op, p, 'grant', v_wallet, jsonb_build_object('operation_id', v_op,
    'lot', (SELECT to_jsonb(l) FROM ledger_lots l WHERE l.id = v_lot)));
END $$;

-- The hot path, written out in full (no helper calls: each nested plpgsql call costs a whole executor
-- round of its own): one idempotency probe, one wallet probe, the plan, ONE statement writing the hold, its
-- allocations, its journal rows and the operation with its result, then the guarded lot updates.
CREATE FUNCTION ledger_reserve(p jsonb) RETURNS jsonb LANGUAGE plpgsql
  SET enable_seqscan = off  -- see "Plans" in the header
AS $$
DECLARE
  v_prev_op text; v_prev_hash text; v_prev_result jsonb; v_active boolean;
  v_plan ledger_take_plan; v_lot record; v_result jsonb; v_x bigint;
  v_lots uuid[] := '{}'; v_amounts bigint[] := '{}'; v_planned bigint := 0; v_allocs jsonb := '[]';
  v_key text := p->>'key';
  v_wallet uuid := (p->>'wallet_id')::uuid;
  v_amount bigint := (p->>'amount')::bigint;
  v_now timestamptz := (p->>'now')::timestamptz;
  v_hold uuid := uuidv7();  -- time-ordered: the holds' primary key grows at its right edge
  v_op uuid := uuidv7();
BEGIN
  -- Idempotency (as ledger_op_begin) and the wallet's status, in one probe of each primary key.
  SELECT o.operation, o.request_hash, o.result, w.active INTO v_prev_op, v_prev_hash, v_prev_result, v_active
  FROM (SELECT EXISTS (SELECT 1 FROM ledger_wallets WHERE id = v_wallet AND status = 'active') AS active) w
  LEFT JOIN ledger_operations o ON o.idempotency_key = v_key;
  IF v_prev_op IS NOT NULL THEN
    IF v_prev_op <> 'reserve' OR v_prev_hash <> p->>'hash' THEN
      PERFORM ledger_raise('IdempotencyConflict', jsonb_build_object(
        'idempotencyKey', v_key, 'firstOperation', v_prev_op, 'operation', 'reserve'));
    END IF;
    RETURN v_prev_result || '{"replayed": true}'::jsonb;
  END IF;
  IF NOT v_active THEN
    PERFORM ledger_check_wallet(v_wallet, true);  -- raises the precise refusal
  END IF;
  IF coalesce((p->>'locking')::boolean, false) THEN
    v_plan := ledger_plan_take(v_wallet, v_now, v_amount, true);
    v_lots := v_plan.lots; v_amounts := v_plan.amounts; v_planned := v_plan.planned;
  ELSE
    -- The optimistic plan (as ledger_plan_take): a plain read; the guarded updates re-check it.
    FOR v_lot IN SELECT id, available FROM ledger_lots
      WHERE wallet_id = v_wallet AND status = 'active' AND available > 0 AND expires_at > v_now
      ORDER BY expires_at, kind_rank, granted_at, id
    LOOP
      v_x := least(v_lot.available, v_amount - v_planned);
      v_lots := v_lots || v_lot.id; v_amounts := v_amounts || v_x; v_planned := v_planned + v_x;
      EXIT WHEN v_planned = v_amount;
    END LOOP;
  END IF;
  IF v_planned < v_amount THEN
    -- A request with our key may have committed between our first probe and the plan (and taken the very
    -- credits we now miss): probe again, with this statement's newer snapshot, so that a duplicate gets the
    -- first result rather than a refusal. Only the refusal path pays for it.
    v_prev_result := ledger_op_begin(p, 'reserve');
    IF v_prev_result IS NOT NULL THEN
      RETURN v_prev_result;
    END IF;
    -- Raising undoes everything: nothing changes, the idempotency key is not consumed.
    PERFORM ledger_raise('InsufficientCredits', jsonb_build_object('walletId', v_wallet,
      'requestedCredits', v_amount, 'availableCredits', v_planned, 'shortfallCredits', v_amount - v_planned));
  END IF;
  -- Built with plain expressions (a subquery would make it a statement of its own).
  FOR i IN 1 .. array_length(v_lots, 1) LOOP
    v_allocs := v_allocs || jsonb_build_object('lot_id', v_lots[i], 'amount', v_amounts[i]);
  END LOOP;
  v_result := jsonb_build_object('operation_id', v_op, 'hold_id', v_hold,
    'wallet_id', v_wallet, 'amount', v_amount, 'expires_at', p->'hold_expires_at', 'allocations', v_allocs);
  -- One statement for all of the operation's own rows (as ledger_op_finish for the operation row: a key
  -- taken concurrently makes us wait for its owner, then fail with unique_violation, retry and replay).
  WITH h AS (
    INSERT INTO ledger_holds (id, wallet_id, state, amount, expires_at, generation_id, created_at, operation_id,
      alloc_lots, alloc_amounts)
    VALUES (v_hold, v_wallet, 'pending', v_amount, (p->>'hold_expires_at')::timestamptz,
      p->'refs'->>'generation_id', v_now, v_op, v_lots, v_amounts)
  ), j AS (
    INSERT INTO ledger_journal (operation_id, idempotency_key, kind, amount, wallet_id, lot_id, hold_id,
      d_available, d_held, generation_id, refund_request_id, purchase_id, subscription_period_id, actor, reason,
      created_at)
    SELECT v_op, v_key, 'hold', u.amount, v_wallet, u.lot, v_hold, -u.amount, u.amount,
      p->'refs'->>'generation_id', p->'refs'->>'refund_request_id', p->'refs'->>'purchase_id',
      p->'refs'->>'subscription_period_id', p->'refs'->>'actor', p->'refs'->>'reason', v_now
    FROM unnest(v_lots, v_amounts) WITH ORDINALITY AS u(lot, amount, seq) ORDER BY u.seq
  )
  INSERT INTO ledger_operations (id, idempotency_key, operation, request_hash, wallet_id, result, created_at)
  VALUES (v_op, v_key, 'reserve', p->>'hash', v_wallet, v_result, v_now);  -- key taken concurrently: see ledger_op_finish
  -- The contended part, last: guarded relative updates of the shared lot rows, in consumption order.
  FOR i IN 1 .. array_length(v_lots, 1) LOOP
    UPDATE ledger_lots SET available = available - v_amounts[i], held = held + v_amounts[i]
    WHERE id = v_lots[i] AND available >= v_amounts[i] AND status = 'active' AND expires_at > v_now;
    IF NOT FOUND THEN PERFORM ledger_retry('lot ' || v_lots[i]); END IF;
  END LOOP;
  RETURN v_result || '{"replayed": false}'::jsonb;
END $$;

-- Why a settlement's guarded update matched nothing; always raises.
CREATE FUNCTION ledger_settle_refusal(p_hold_id uuid, p_mode text, p jsonb, p_now timestamptz) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  v_hold ledger_holds;
BEGIN
  -- A concurrent request with the same key settled the hold while we waited on its row (we read the key
  -- before that request committed): retry, and the retry replays its result.
  IF EXISTS (SELECT 1 FROM ledger_operations WHERE idempotency_key = p->>'key') THEN
    PERFORM ledger_retry('idempotency key used concurrently');
  END IF;
  SELECT * INTO v_hold FROM ledger_holds WHERE id = p_hold_id;
  IF NOT FOUND THEN PERFORM ledger_raise('HoldNotFound', jsonb_build_object('holdId', p_hold_id)); END IF;
  IF v_hold.state <> 'pending' THEN
    PERFORM ledger_raise('HoldAlreadyResolved', jsonb_build_object('holdId', p_hold_id, 'state', v_hold.state));
  END IF;
  IF p_mode = 'expire' AND v_hold.expires_at > p_now THEN
    PERFORM ledger_raise('HoldNotExpired', jsonb_build_object('holdId', p_hold_id, 'expiresAt', v_hold.expires_at));
  END IF;
  PERFORM ledger_raise('InvalidAmount', jsonb_build_object('field', 'amountCredits',
    'requestedCredits', (p->>'amount')::bigint, 'holdCredits', v_hold.amount));
END $$;

-- capture (all or part; the rest released), release, or expire (the safety net) a pending hold.
-- Released credits go back to their lot while it is usable; otherwise they count as expired (or revoked)
-- on that lot and come back in one new refund lot, so a technical failure never costs the user.
-- Written out in full like ledger_reserve: idempotency probe, the hold's resolving update (which also
-- settles its allocations), ONE statement for the operation's own rows, then the lot updates.
CREATE FUNCTION ledger_settle(p jsonb) RETURNS jsonb LANGUAGE plpgsql
  SET enable_seqscan = off  -- see "Plans" in the header
AS $$
DECLARE
  v_prev_op text; v_prev_hash text; v_prev_result jsonb;
  v_wallet uuid; v_hold_amount bigint; v_capture bigint; v_state text;
  v_refund bigint := 0; v_refund_lot uuid; v_result jsonb; v_allocs jsonb := '[]';
  v_lots uuid[]; v_dests text[]; v_caps bigint[]; v_rels bigint[];
  v_key text := p->>'key';
  v_mode text := p->>'mode';
  v_hold_id uuid := (p->>'hold_id')::uuid;
  v_now timestamptz := (p->>'now')::timestamptz;
  v_op uuid := uuidv7();
BEGIN
  -- Idempotency (as ledger_op_begin).
  SELECT o.operation, o.request_hash, o.result INTO v_prev_op, v_prev_hash, v_prev_result
  FROM ledger_operations o WHERE o.idempotency_key = v_key;
  IF FOUND THEN
    IF v_prev_op <> v_mode OR v_prev_hash <> p->>'hash' THEN
      PERFORM ledger_raise('IdempotencyConflict', jsonb_build_object(
        'idempotencyKey', v_key, 'firstOperation', v_prev_op, 'operation', v_mode));
    END IF;
    RETURN v_prev_result || '{"replayed": true}'::jsonb;
  END IF;
  v_state := CASE v_mode WHEN 'capture' THEN 'captured' WHEN 'release' THEN 'released' ELSE 'expired' END;
  -- Resolves exactly once, in one statement: a racing settlement waits on this row, then finds it no
  -- longer pending. All preconditions are in the WHERE; if it matches nothing we work out which failed.
  -- The same update records each allocation's outcome (captured in allocation order, the rest released).
  UPDATE ledger_holds SET state = v_state, resolved_at = v_now,
    captured = CASE WHEN v_mode = 'capture' THEN coalesce((p->>'amount')::bigint, amount) ELSE 0 END,
    released = amount - CASE WHEN v_mode = 'capture' THEN coalesce((p->>'amount')::bigint, amount) ELSE 0 END,
    alloc_captured = ledger_split_capture(alloc_amounts,
      CASE WHEN v_mode = 'capture' THEN coalesce((p->>'amount')::bigint, amount) ELSE 0 END, false),
    alloc_released = ledger_split_capture(alloc_amounts,
      CASE WHEN v_mode = 'capture' THEN coalesce((p->>'amount')::bigint, amount) ELSE 0 END, true)
  WHERE id = v_hold_id AND state = 'pending'
    AND (v_mode <> 'expire' OR expires_at <= v_now)
    AND (v_mode <> 'capture' OR coalesce((p->>'amount')::bigint, amount) <= amount)
  RETURNING wallet_id, amount, captured, alloc_lots, alloc_captured, alloc_released
  INTO v_wallet, v_hold_amount, v_capture, v_lots, v_caps, v_rels;
  IF NOT FOUND THEN PERFORM ledger_settle_refusal(v_hold_id, v_mode, p, v_now); END IF;
  IF v_capture = v_hold_amount THEN
    -- Nothing released (the common case): where released credits would go does not matter.
    v_dests := array_fill('available'::text, ARRAY[array_length(v_lots, 1)]);
  ELSE
    -- Released credits go back to their lot while it is usable. LATERAL … OFFSET 0 pins a primary-key
    -- probe per allocation (a generic plan on stale statistics would hash-join the whole lots table).
    SELECT array_agg(CASE WHEN l.status = 'active' AND l.expires_at > v_now THEN 'available'
                          WHEN l.status = 'revoked' THEN 'revoked' ELSE 'expired' END ORDER BY u.i)
    INTO v_dests
    FROM unnest(v_lots) WITH ORDINALITY AS u(lot, i)
    CROSS JOIN LATERAL (SELECT y.status, y.expires_at FROM ledger_lots y WHERE y.id = u.lot OFFSET 0) l;
  END IF;
  FOR i IN 1 .. array_length(v_lots, 1) LOOP
    IF v_dests[i] <> 'available' THEN v_refund := v_refund + v_rels[i]; END IF;
    v_allocs := v_allocs || jsonb_build_object('lot_id', v_lots[i], 'captured', v_caps[i], 'released', v_rels[i]);
  END LOOP;
  IF v_refund > 0 THEN v_refund_lot := uuidv7(); END IF;
  v_result := jsonb_build_object('operation_id', v_op, 'hold_id', v_hold_id,
    'wallet_id', v_wallet, 'state', v_state, 'captured', v_capture, 'released', v_hold_amount - v_capture,
    'allocations', v_allocs, 'refund_lot_id', v_refund_lot);
  -- One statement: journal rows (captures in allocation order, then releases, each with the counter it
  -- returned to) and the operation row (as ledger_op_finish).
  WITH j AS (
    INSERT INTO ledger_journal (operation_id, idempotency_key, kind, amount, wallet_id, lot_id, hold_id,
      d_available, d_held, d_consumed, d_expired, d_revoked,
      generation_id, refund_request_id, purchase_id, subscription_period_id, actor, reason, created_at)
    SELECT v_op, v_key, m.kind, m.amount, v_wallet, m.lot, v_hold_id,
      m.d_a, -m.amount, m.d_c, m.d_e, m.d_r,
      p->'refs'->>'generation_id', p->'refs'->>'refund_request_id', p->'refs'->>'purchase_id',
      p->'refs'->>'subscription_period_id', p->'refs'->>'actor', p->'refs'->>'reason', v_now
    FROM (
      SELECT 1 AS part, u.i, 'capture' AS kind, u.c AS amount, u.lot, 0::bigint AS d_a, u.c AS d_c,
             0::bigint AS d_e, 0::bigint AS d_r
      FROM unnest(v_lots, v_caps) WITH ORDINALITY AS u(lot, c, i) WHERE u.c > 0
      UNION ALL
      SELECT 2, u.i, 'release', u.r, u.lot, CASE WHEN u.d = 'available' THEN u.r ELSE 0 END, 0,
             CASE WHEN u.d = 'expired' THEN u.r ELSE 0 END, CASE WHEN u.d = 'revoked' THEN u.r ELSE 0 END
      FROM unnest(v_lots, v_rels, v_dests) WITH ORDINALITY AS u(lot, r, d, i) WHERE u.r > 0
    ) m ORDER BY m.part, m.i
  )
  INSERT INTO ledger_operations (id, idempotency_key, operation, request_hash, wallet_id, result, created_at)
  VALUES (v_op, v_key, v_mode, p->>'hash', v_wallet, v_result, v_now);  -- key taken concurrently: see ledger_op_finish
  IF v_refund > 0 THEN
    -- Rare: credits released into lots no longer usable come back as one new refund lot.
    INSERT INTO ledger_lots (id, wallet_id, kind, granted_at, expires_at, granted, available,
      purchase_id, subscription_period_id, promo_id, refund_request_id, source_hold_id, operation_id)
    VALUES (v_refund_lot, v_wallet, 'refund', v_now, v_now + make_interval(days => (p->>'refund_days')::int),
      v_refund, v_refund, p->'refs'->>'purchase_id', p->'refs'->>'subscription_period_id', p->'refs'->>'promo_id',
      p->'refs'->>'refund_request_id', v_hold_id, v_op);
    PERFORM ledger_journal_rows(v_op, p, 'grant', v_wallet, v_hold_id, ARRAY[v_refund_lot], ARRAY[v_refund],
      1, 0, 0, 0, 0);
  END IF;
  -- The contended part, last: one update per lot in allocation (= consumption) order. Held credits only
  -- ever leave a lot through its hold, so `held` needs no guard; returning credits to `available` requires
  -- the lot to still be usable, else the plan is stale (the lot was closed meanwhile) and we retry.
  FOR i IN 1 .. coalesce(array_length(v_lots, 1), 0) LOOP
    UPDATE ledger_lots SET held = held - v_caps[i] - v_rels[i], consumed = consumed + v_caps[i],
      available = available + CASE WHEN v_dests[i] = 'available' THEN v_rels[i] ELSE 0 END,
      expired = expired + CASE WHEN v_dests[i] = 'expired' THEN v_rels[i] ELSE 0 END,
      revoked = revoked + CASE WHEN v_dests[i] = 'revoked' THEN v_rels[i] ELSE 0 END
    WHERE id = v_lots[i]
      AND (v_rels[i] = 0 OR v_dests[i] <> 'available' OR (status = 'active' AND expires_at > v_now));
    IF NOT FOUND THEN PERFORM ledger_retry('lot ' || v_lots[i]); END IF;
  END LOOP;
  RETURN v_result || '{"replayed": false}'::jsonb;
END $$;

-- Gives captured credits of a hold back, newest allocation first: into their lot while it is usable,
-- otherwise into one new refund lot. Lot rows are updated in consumption order (the lock order).
CREATE FUNCTION ledger_refund(p jsonb) RETURNS jsonb LANGUAGE plpgsql
  SET enable_seqscan = off  -- see "Plans" in the header
AS $$
DECLARE
  v_op uuid; v_prior jsonb; v_hold ledger_holds; v_a record; v_x bigint; v_new bigint := 0; v_refund_lot uuid;
  v_seqs int[] := '{}'; v_lots uuid[] := '{}'; v_back bigint[] := '{}'; v_result jsonb; v_ref bigint[];
  v_hold_id uuid := (p->>'hold_id')::uuid;
  v_amount bigint := (p->>'amount')::bigint;
  v_left bigint := (p->>'amount')::bigint;
  v_now timestamptz := (p->>'now')::timestamptz;
BEGIN
  v_op := uuidv7();
  v_prior := ledger_op_begin(p, 'refund');
  IF v_prior IS NOT NULL THEN RETURN v_prior; END IF;
  SELECT * INTO v_hold FROM ledger_holds WHERE id = v_hold_id;
  IF NOT FOUND THEN PERFORM ledger_raise('HoldNotFound', jsonb_build_object('holdId', v_hold_id)); END IF;
  PERFORM ledger_check_wallet(v_hold.wallet_id, true);
  -- Serializes refunds of one hold and caps them at what was captured.
  UPDATE ledger_holds SET refunded = refunded + v_amount WHERE id = v_hold_id AND captured - refunded >= v_amount
  RETURNING coalesce(alloc_refunded, array_fill(0::bigint, ARRAY[array_length(alloc_lots, 1)])) INTO v_ref;
  IF NOT FOUND THEN
    -- A refund with our key may have committed while we waited for the hold's row lock: replay it.
    v_prior := ledger_op_begin(p, 'refund');
    IF v_prior IS NOT NULL THEN RETURN v_prior; END IF;
    SELECT * INTO v_hold FROM ledger_holds WHERE id = v_hold_id;
    PERFORM ledger_raise('RefundExceedsCaptured', jsonb_build_object('holdId', v_hold_id, 'state', v_hold.state,
      'requestedCredits', v_amount, 'refundableCredits', v_hold.captured - v_hold.refunded));
  END IF;
  FOR v_a IN SELECT a.seq, a.lot_id, a.captured - a.refunded AS refundable, l.status, l.expires_at
             FROM ledger_hold_allocations a
             CROSS JOIN LATERAL (SELECT x.status, x.expires_at FROM ledger_lots x WHERE x.id = a.lot_id OFFSET 0) l
             WHERE a.hold_id = v_hold_id AND a.captured > a.refunded ORDER BY a.seq DESC LOOP
    v_x := least(v_a.refundable, v_left);
    v_left := v_left - v_x;
    v_ref[v_a.seq] := v_ref[v_a.seq] + v_x;
    IF v_a.status = 'active' AND v_a.expires_at > v_now THEN
      v_seqs := v_a.seq || v_seqs; v_lots := v_a.lot_id || v_lots; v_back := v_x || v_back;  -- ascending seq
    ELSE
      v_new := v_new + v_x;
    END IF;
    EXIT WHEN v_left = 0;
  END LOOP;
  UPDATE ledger_holds SET alloc_refunded = v_ref WHERE id = v_hold_id;  -- row already locked above
  PERFORM ledger_journal_rows(v_op, p, 'refund', v_hold.wallet_id, v_hold_id, v_lots, v_back, 1, 0, -1, 0, 0);
  IF v_new > 0 THEN
    v_refund_lot := ledger_new_lot(v_op, p, v_hold.wallet_id, 'refund', v_new,
      v_now + make_interval(days => (p->>'refund_days')::int), 'refund', v_hold_id);
  END IF;
  v_result := ledger_op_finish(v_op, p, 'refund', v_hold.wallet_id, jsonb_build_object('operation_id', v_op, 'hold_id', v_hold_id,
    'wallet_id', v_hold.wallet_id, 'refunded', v_amount,
    'allocations', coalesce((SELECT jsonb_agg(jsonb_build_object('lot_id', u.lot, 'amount', u.amount) ORDER BY u.i DESC)
                    FROM unnest(v_lots, v_back) WITH ORDINALITY AS u(lot, amount, i)), '[]'::jsonb),
    'refund_lot_id', v_refund_lot, 'refund_lot_amount', v_new));
  FOR i IN 1 .. coalesce(array_length(v_lots, 1), 0) LOOP
    UPDATE ledger_lots SET consumed = consumed - v_back[i], available = available + v_back[i]
    WHERE id = v_lots[i] AND status = 'active' AND expires_at > v_now;
    IF NOT FOUND THEN PERFORM ledger_retry('lot ' || v_lots[i]); END IF;
  END LOOP;
  RETURN v_result;
END $$;

-- expire or revoke a lot: its available credits only; held credits stay with their holds. A lot already
-- closed yields amount 0 (the expiry timer and an account deletion may both get there).
CREATE FUNCTION ledger_close_lot(p jsonb) RETURNS jsonb LANGUAGE plpgsql
  SET enable_seqscan = off  -- see "Plans" in the header
AS $$
DECLARE
  v_op uuid; v_prior jsonb; v_lot ledger_lots; v_amount bigint := 0;
  v_mode text := p->>'mode';
  v_lot_id uuid := (p->>'lot_id')::uuid;
BEGIN
  v_op := uuidv7();
  v_prior := ledger_op_begin(p, v_mode);
  IF v_prior IS NOT NULL THEN RETURN v_prior; END IF;
  SELECT * INTO v_lot FROM ledger_lots WHERE id = v_lot_id FOR NO KEY UPDATE;
  IF NOT FOUND THEN PERFORM ledger_raise('LotNotFound', jsonb_build_object('lotId', v_lot_id)); END IF;
  IF v_lot.status = 'active' THEN
    v_amount := v_lot.available;
    UPDATE ledger_lots SET available = 0, closed_at = (p->>'now')::timestamptz,
      status = CASE WHEN v_mode = 'expire' THEN 'expired' ELSE 'revoked' END,
      expired = expired + CASE WHEN v_mode = 'expire' THEN v_amount ELSE 0 END,
      revoked = revoked + CASE WHEN v_mode = 'revoke' THEN v_amount ELSE 0 END
    WHERE id = v_lot_id;
    PERFORM ledger_journal_rows(v_op, p, v_mode, v_lot.wallet_id, NULL, ARRAY[v_lot_id], ARRAY[v_amount],
      -1, 0, 0, (v_mode = 'expire')::int, (v_mode = 'revoke')::int);
  END IF;
  RETURN ledger_op_finish(v_op, p, v_mode, v_lot.wallet_id, jsonb_build_object('operation_id', v_op, 'lot_id', v_lot_id,
    'wallet_id', v_lot.wallet_id, 'amount', v_amount));
END $$;

-- Positive: a new adjustment lot. Negative: debit available credits in consumption order (all or nothing),
-- locking the lots up front (administrative and rare: no need for the optimistic path).
CREATE FUNCTION ledger_adjust(p jsonb) RETURNS jsonb LANGUAGE plpgsql
  SET enable_seqscan = off  -- see "Plans" in the header
AS $$
DECLARE
  v_op uuid; v_prior jsonb; v_lot uuid; v_plan ledger_take_plan; v_allocs jsonb := '[]'::jsonb;
  v_wallet uuid := (p->>'wallet_id')::uuid;
  v_delta bigint := (p->>'delta')::bigint;
  v_now timestamptz := (p->>'now')::timestamptz;
BEGIN
  v_op := uuidv7();
  v_prior := ledger_op_begin(p, 'adjust');
  IF v_prior IS NOT NULL THEN RETURN v_prior; END IF;
  PERFORM ledger_check_wallet(v_wallet, true);
  IF v_delta > 0 THEN
    v_lot := ledger_new_lot(v_op, p, v_wallet, 'adjustment', v_delta, (p->>'expires_at')::timestamptz, 'adjust', NULL);
  ELSE
    v_plan := ledger_plan_take(v_wallet, v_now, -v_delta, true);
    IF v_plan.planned < -v_delta THEN
      PERFORM ledger_raise('InsufficientCredits', jsonb_build_object('walletId', v_wallet,
        'requestedCredits', -v_delta, 'availableCredits', v_plan.planned, 'shortfallCredits', -v_delta - v_plan.planned));
    END IF;
    PERFORM ledger_apply_take(v_plan.lots, v_plan.amounts, v_now, 'revoked');
    PERFORM ledger_journal_rows(v_op, p, 'adjust', v_wallet, NULL, v_plan.lots, v_plan.amounts, -1, 0, 0, 0, 1);
    SELECT jsonb_agg(jsonb_build_object('lot_id', u.lot, 'amount', u.amount) ORDER BY u.i) INTO v_allocs
    FROM unnest(v_plan.lots, v_plan.amounts) WITH ORDINALITY AS u(lot, amount, i);
  END IF;
  RETURN ledger_op_finish(v_op, p, 'adjust', v_wallet, jsonb_build_object('operation_id', v_op, 'wallet_id', v_wallet,
    'delta', v_delta, 'lot_id', v_lot, 'allocations', v_allocs));
END $$;

-- Audit: recomputes everything from the journal and returns every violation (empty = consistent).
-- Wallet balances are not stored (they are the sum of the wallet's lots), so there is no wallet total to
-- drift; lot counters, hold totals and allocations are all checked against the journal.
---------------------------------------------------------------------------------------------------------

CREATE FUNCTION ledger_audit(p_wallet uuid)
RETURNS TABLE (check_name text, wallet_id uuid, lot_id uuid, hold_id uuid, details jsonb)
LANGUAGE sql STABLE AS $$
  WITH
  lots AS (SELECT * FROM ledger_lots l WHERE p_wallet IS NULL OR l.wallet_id = p_wallet),
  holds AS (SELECT * FROM ledger_holds h WHERE p_wallet IS NULL OR h.wallet_id = p_wallet),
  journal AS (SELECT * FROM ledger_journal j WHERE p_wallet IS NULL OR j.wallet_id = p_wallet),
  jl AS (
    SELECT j.lot_id, sum(d_available) AS a, sum(d_held) AS h, sum(d_consumed) AS c, sum(d_expired) AS e,
           sum(d_revoked) AS r, sum(d_available + d_held + d_consumed + d_expired + d_revoked) AS g
    FROM journal j GROUP BY j.lot_id),
  jh AS (
    SELECT j.hold_id,
           coalesce(sum(amount) FILTER (WHERE kind = 'hold'), 0) AS held,
           coalesce(sum(amount) FILTER (WHERE kind = 'capture'), 0) AS captured,
           coalesce(sum(amount) FILTER (WHERE kind = 'release'), 0) AS released,
           coalesce(sum(amount) FILTER (WHERE kind = 'refund'), 0) AS refunded,
           count(DISTINCT operation_id) FILTER (WHERE kind IN ('capture', 'release')) AS settlements
    FROM journal j WHERE j.hold_id IS NOT NULL GROUP BY j.hold_id),
  ah AS (
    SELECT a.hold_id, sum(a.amount) AS amount, sum(a.captured) AS captured, sum(a.released) AS released,
           sum(a.refunded) AS refunded,
           bool_and(h.state = 'pending' OR a.captured + a.released = a.amount) AS each_settled
    FROM ledger_hold_allocations a JOIN holds h ON h.id = a.hold_id GROUP BY a.hold_id),
  -- Per hold and lot: what was held, captured and released there (refunds may land in a new refund lot,
  -- so they are checked per hold, in hold_totals).
  jha AS (
    SELECT j.hold_id, j.lot_id,
           coalesce(sum(amount) FILTER (WHERE kind = 'hold'), 0) AS amount,
           coalesce(sum(amount) FILTER (WHERE kind = 'capture'), 0) AS captured,
           coalesce(sum(amount) FILTER (WHERE kind = 'release'), 0) AS released
    FROM journal j
    WHERE j.kind IN ('hold', 'capture', 'release') GROUP BY j.hold_id, j.lot_id),
  pending_held AS (
    SELECT a.lot_id, sum(a.amount) AS held FROM ledger_hold_allocations a
    JOIN holds h ON h.id = a.hold_id AND h.state = 'pending' GROUP BY a.lot_id)

  SELECT 'lot_counter_mismatch', l.wallet_id, l.id, NULL::uuid,
         jsonb_build_object('lot', jsonb_build_array(l.granted, l.available, l.held, l.consumed, l.expired, l.revoked),
                            'journal', jsonb_build_array(jl.g, jl.a, jl.h, jl.c, jl.e, jl.r),
                            'order', 'granted,available,held,consumed,expired,revoked')
  FROM lots l LEFT JOIN jl ON jl.lot_id = l.id
  WHERE (l.granted, l.available, l.held, l.consumed, l.expired, l.revoked)
        IS DISTINCT FROM (jl.g, jl.a, jl.h, jl.c, jl.e, jl.r)

  UNION ALL
  SELECT 'lot_conservation', l.wallet_id, l.id, NULL,
         jsonb_build_object('granted', l.granted, 'available', l.available, 'held', l.held,
                            'consumed', l.consumed, 'expired', l.expired, 'revoked', l.revoked)
  FROM lots l
  WHERE l.granted <> l.available + l.held + l.consumed + l.expired + l.revoked
     OR least(l.available, l.held, l.consumed, l.expired, l.revoked) < 0 OR l.granted <= 0

  UNION ALL
  SELECT 'lot_held_mismatch', l.wallet_id, l.id, NULL,
         jsonb_build_object('held', l.held, 'pendingAllocations', coalesce(ph.held, 0))
  FROM lots l LEFT JOIN pending_held ph ON ph.lot_id = l.id
  WHERE l.held <> coalesce(ph.held, 0)

  UNION ALL
  SELECT 'journal_signature', j.wallet_id, j.lot_id, j.hold_id,
         jsonb_build_object('entryId', j.id, 'kind', j.kind, 'amount', j.amount,
                            'deltas', jsonb_build_array(j.d_available, j.d_held, j.d_consumed, j.d_expired, j.d_revoked))
  FROM journal j
  WHERE NOT (j.amount > 0 AND CASE j.kind
    WHEN 'grant'   THEN (j.d_available, j.d_held, j.d_consumed, j.d_expired, j.d_revoked) = (j.amount, 0, 0, 0, 0)
    WHEN 'hold'    THEN (j.d_available, j.d_held, j.d_consumed, j.d_expired, j.d_revoked) = (-j.amount, j.amount, 0, 0, 0)
    WHEN 'capture' THEN (j.d_available, j.d_held, j.d_consumed, j.d_expired, j.d_revoked) = (0, -j.amount, j.amount, 0, 0)
    WHEN 'release' THEN j.d_held = -j.amount AND j.d_consumed = 0
                        AND (j.d_available, j.d_expired, j.d_revoked) IN ((j.amount, 0, 0), (0, j.amount, 0), (0, 0, j.amount))
    WHEN 'refund'  THEN (j.d_available, j.d_held, j.d_consumed, j.d_expired, j.d_revoked) IN
                        ((j.amount, 0, -j.amount, 0, 0), (j.amount, 0, 0, 0, 0))
    WHEN 'expire'  THEN (j.d_available, j.d_held, j.d_consumed, j.d_expired, j.d_revoked) = (-j.amount, 0, 0, j.amount, 0)
    WHEN 'revoke'  THEN (j.d_available, j.d_held, j.d_consumed, j.d_expired, j.d_revoked) = (-j.amount, 0, 0, 0, j.amount)
    WHEN 'adjust'  THEN (j.d_available, j.d_held, j.d_consumed, j.d_expired, j.d_revoked) IN
                        ((j.amount, 0, 0, 0, 0), (-j.amount, 0, 0, 0, j.amount))
    ELSE false END)

  UNION ALL
  SELECT 'journal_wallet_mismatch', j.wallet_id, j.lot_id, j.hold_id,
         jsonb_build_object('entryId', j.id, 'lotWalletId', l.wallet_id)
  FROM journal j JOIN ledger_lots l ON l.id = j.lot_id
  WHERE l.wallet_id <> j.wallet_id

  UNION ALL
  SELECT 'hold_totals', h.wallet_id, NULL, h.id,
         jsonb_build_object('state', h.state, 'amount', h.amount, 'captured', h.captured, 'released', h.released,
           'refunded', h.refunded,
           'allocations', jsonb_build_array(ah.amount, ah.captured, ah.released, ah.refunded),
           'journal', jsonb_build_array(jh.held, jh.captured, jh.released, jh.refunded),
           'settlements', jh.settlements, 'eachAllocationSettled', ah.each_settled)
  FROM holds h LEFT JOIN ah ON ah.hold_id = h.id LEFT JOIN jh ON jh.hold_id = h.id
  WHERE ah.amount IS DISTINCT FROM h.amount
     OR (ah.captured, ah.released, ah.refunded) IS DISTINCT FROM (h.captured, h.released, h.refunded)
     OR (jh.held, jh.captured, jh.released, jh.refunded) IS DISTINCT FROM (h.amount, h.captured, h.released, h.refunded)
     OR jh.settlements > 1
     OR (h.state = 'pending' AND (h.captured <> 0 OR h.released <> 0 OR jh.settlements <> 0))
     OR (h.state <> 'pending' AND h.captured + h.released <> h.amount)
     OR h.refunded > h.captured
     OR ah.each_settled IS NOT TRUE

  UNION ALL
  SELECT 'hold_allocation_journal', h.wallet_id, a.lot_id, a.hold_id,
         jsonb_build_object('allocation', jsonb_build_array(a.amount, a.captured, a.released),
                            'journal', jsonb_build_array(jha.amount, jha.captured, jha.released),
                            'order', 'held,captured,released')
  FROM ledger_hold_allocations a JOIN holds h ON h.id = a.hold_id
  LEFT JOIN jha ON jha.hold_id = a.hold_id AND jha.lot_id = a.lot_id
  WHERE (jha.amount, jha.captured, jha.released) IS DISTINCT FROM (a.amount, a.captured, a.released)

  -- References (the hot tables carry no foreign keys; see ledger_holds).
  UNION ALL
  SELECT 'journal_orphan', j.wallet_id, j.lot_id, j.hold_id, jsonb_build_object('entryId', j.id)
  FROM journal j
  WHERE NOT EXISTS (SELECT 1 FROM ledger_lots l WHERE l.id = j.lot_id)
     OR (j.hold_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ledger_holds h WHERE h.id = j.hold_id AND h.wallet_id = j.wallet_id))
     OR NOT EXISTS (SELECT 1 FROM ledger_operations o WHERE o.id = j.operation_id)

  UNION ALL
  SELECT 'allocation_orphan', h.wallet_id, a.lot_id, a.hold_id, jsonb_build_object('seq', a.seq)
  FROM ledger_hold_allocations a JOIN holds h ON h.id = a.hold_id
  WHERE NOT EXISTS (SELECT 1 FROM ledger_lots l WHERE l.id = a.lot_id AND l.wallet_id = h.wallet_id)

  UNION ALL
  SELECT 'allocation_orphan', NULL, a.lot_id, a.hold_id, jsonb_build_object('seq', a.seq, 'missing', 'hold')
  FROM ledger_hold_allocations a
  WHERE p_wallet IS NULL AND NOT EXISTS (SELECT 1 FROM ledger_holds h WHERE h.id = a.hold_id)

  UNION ALL
  SELECT 'hold_orphan', h.wallet_id, NULL, h.id, jsonb_build_object('missing', 'wallet')
  FROM holds h
  WHERE NOT EXISTS (SELECT 1 FROM ledger_wallets w WHERE w.id = h.wallet_id)
$$;


-- Down Migration

DROP FUNCTION IF EXISTS ledger_audit(uuid);
DROP FUNCTION IF EXISTS ledger_adjust(jsonb);
DROP FUNCTION IF EXISTS ledger_close_lot(jsonb);
DROP FUNCTION IF EXISTS ledger_refund(jsonb);
DROP FUNCTION IF EXISTS ledger_settle(jsonb);
DROP FUNCTION IF EXISTS ledger_settle_refusal(uuid, text, jsonb, timestamptz);
DROP FUNCTION IF EXISTS ledger_reserve(jsonb);
DROP FUNCTION IF EXISTS ledger_grant(jsonb);
DROP FUNCTION IF EXISTS ledger_apply_take(uuid[], bigint[], timestamptz, text);
DROP FUNCTION IF EXISTS ledger_plan_take(uuid, timestamptz, bigint, boolean);
DROP TYPE IF EXISTS ledger_take_plan;
DROP FUNCTION IF EXISTS ledger_new_lot(uuid, jsonb, uuid, text, bigint, timestamptz, text, uuid);
DROP FUNCTION IF EXISTS ledger_journal_rows(uuid, jsonb, text, uuid, uuid, uuid[], bigint[], int, int, int, int, int);
DROP FUNCTION IF EXISTS ledger_check_wallet(uuid, boolean);
DROP FUNCTION IF EXISTS ledger_retry(text);
DROP FUNCTION IF EXISTS ledger_op_finish(uuid, jsonb, text, uuid, jsonb);
DROP FUNCTION IF EXISTS ledger_op_begin(jsonb, text);
DROP FUNCTION IF EXISTS ledger_raise(text, jsonb);
DROP TABLE IF EXISTS ledger_journal;
DROP VIEW IF EXISTS ledger_hold_allocations;
DROP TABLE IF EXISTS ledger_holds;
DROP FUNCTION IF EXISTS ledger_split_capture(bigint[], bigint, boolean);
DROP FUNCTION IF EXISTS ledger_allocations_valid(uuid[], bigint[], bigint[], bigint[], bigint[]);
DROP TABLE IF EXISTS ledger_lots;
DROP TABLE IF EXISTS ledger_operations;
DROP TABLE IF EXISTS ledger_organization_members;
DROP TABLE IF EXISTS ledger_wallets;
DROP FUNCTION IF EXISTS ledger_journal_immutable();
