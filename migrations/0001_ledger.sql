-- Up Migration

-- The credit ledger (architecture §2). Every mutation is ONE call of a plpgsql function below taking and
-- returning jsonb: one round trip and one implicit transaction per operation. Locking discipline, the same
-- in every function so nothing can deadlock: (1) the idempotency key's unique index entry (insert-first, so a
-- concurrent duplicate waits for the first and then replays it), (2) the wallet row FOR NO KEY UPDATE — the
-- per-wallet mutex: every money movement of a wallet happens under it, so lot rows need no locks of their own
-- and two requests racing for the last credits are strictly serialized. Refusals RAISE with SQLSTATE LDG01,
-- which rolls the whole statement back: a refused operation leaves no trace.

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

-- One row per accepted mutation; the key is the idempotency key. `result` is written once, in the same
-- transaction that inserted the row, and is what a replay returns.
CREATE TABLE ledger_operations (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  idempotency_key text NOT NULL UNIQUE,
  operation       text NOT NULL,
  request_hash    text NOT NULL,
  wallet_id       uuid,
  result          jsonb,
  created_at      timestamptz NOT NULL
);

CREATE TABLE ledger_lots (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
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
);
CREATE INDEX ledger_lots_consumption ON ledger_lots (wallet_id, expires_at, kind_rank, granted_at, id)
  WHERE available > 0 AND status = 'active';
CREATE INDEX ledger_lots_wallet ON ledger_lots (wallet_id);

CREATE TABLE ledger_holds (
  id            uuid PRIMARY KEY,
  wallet_id     uuid NOT NULL REFERENCES ledger_wallets (id),
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
  CHECK (refunded <= captured),
  CHECK ((state = 'pending' AND captured = 0 AND released = 0 AND resolved_at IS NULL)
      OR (state <> 'pending' AND captured + released = amount AND resolved_at IS NOT NULL))
);
CREATE INDEX ledger_holds_pending_expiry ON ledger_holds (expires_at) WHERE state = 'pending';
CREATE INDEX ledger_holds_generation ON ledger_holds (generation_id) WHERE generation_id IS NOT NULL;
CREATE INDEX ledger_holds_wallet ON ledger_holds (wallet_id);

CREATE TABLE ledger_hold_allocations (
  hold_id   uuid NOT NULL REFERENCES ledger_holds (id),
  seq       int NOT NULL,
  lot_id    uuid NOT NULL REFERENCES ledger_lots (id),
  amount    bigint NOT NULL CHECK (amount > 0),
  captured  bigint NOT NULL DEFAULT 0 CHECK (captured >= 0),
  released  bigint NOT NULL DEFAULT 0 CHECK (released >= 0),
  refunded  bigint NOT NULL DEFAULT 0 CHECK (refunded >= 0),
  PRIMARY KEY (hold_id, seq),
  UNIQUE (hold_id, lot_id),
  CHECK (captured + released <= amount),
  CHECK (refunded <= captured)
);
CREATE INDEX ledger_hold_allocations_lot ON ledger_hold_allocations (lot_id);

-- One row per movement per lot. d_* are the deltas the row applied to its lot's counters; the audit
-- recomputes every counter from them and checks each row's deltas against its kind.
CREATE TABLE ledger_journal (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  operation_id    uuid NOT NULL REFERENCES ledger_operations (id),
  idempotency_key text NOT NULL,
  kind            text NOT NULL CHECK (kind IN ('grant', 'hold', 'capture', 'release', 'refund', 'expire', 'revoke', 'adjust')),
  amount          bigint NOT NULL CHECK (amount > 0),
  wallet_id       uuid NOT NULL REFERENCES ledger_wallets (id),
  lot_id          uuid NOT NULL REFERENCES ledger_lots (id),
  hold_id         uuid REFERENCES ledger_holds (id),
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
CREATE INDEX ledger_journal_lot ON ledger_journal (lot_id);
CREATE INDEX ledger_journal_hold ON ledger_journal (hold_id) WHERE hold_id IS NOT NULL;

-- Append-only: a mistake is fixed by a new, correcting entry, never by rewriting history.
CREATE FUNCTION ledger_journal_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'ledger_journal is append-only (% refused)', TG_OP USING ERRCODE = 'LDG02';
END $$;
CREATE TRIGGER ledger_journal_no_update BEFORE UPDATE OR DELETE ON ledger_journal
  FOR EACH ROW EXECUTE FUNCTION ledger_journal_immutable();
CREATE TRIGGER ledger_journal_no_truncate BEFORE TRUNCATE ON ledger_journal
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_journal_immutable();

-- Operations: the result is written exactly once; afterwards the row is frozen.
CREATE FUNCTION ledger_operations_write_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.result IS NULL AND NEW.idempotency_key = OLD.idempotency_key
     AND NEW.request_hash = OLD.request_hash AND NEW.operation = OLD.operation THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'ledger_operations rows are write-once (% refused)', TG_OP USING ERRCODE = 'LDG02';
END $$;
CREATE TRIGGER ledger_operations_frozen BEFORE UPDATE OR DELETE ON ledger_operations
  FOR EACH ROW EXECUTE FUNCTION ledger_operations_write_once();

---------------------------------------------------------------------------------------------------------
-- Helpers
---------------------------------------------------------------------------------------------------------

CREATE FUNCTION ledger_raise(p_code text, p_details jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION USING ERRCODE = 'LDG01', MESSAGE = p_code, DETAIL = p_details::text;
END $$;

-- Claims the idempotency key. Returns (new operation id, NULL) for a fresh key, or (NULL, first result)
-- for a replay. A concurrent duplicate blocks on the unique index until the first commits, then replays.
CREATE FUNCTION ledger_op_begin(p jsonb, p_operation text, OUT op_id uuid, OUT prior jsonb)
LANGUAGE plpgsql AS $$
DECLARE
  v_existing ledger_operations;
BEGIN
  INSERT INTO ledger_operations (idempotency_key, operation, request_hash, created_at)
  VALUES (p->>'key', p_operation, p->>'hash', (p->>'now')::timestamptz)
  ON CONFLICT (idempotency_key) DO NOTHING
  RETURNING id INTO op_id;
  IF op_id IS NOT NULL THEN
    RETURN;
  END IF;
  SELECT * INTO v_existing FROM ledger_operations WHERE idempotency_key = p->>'key';
  IF v_existing.operation <> p_operation OR v_existing.request_hash <> p->>'hash' THEN
    PERFORM ledger_raise('IdempotencyConflict', jsonb_build_object(
      'idempotencyKey', p->>'key', 'firstOperation', v_existing.operation, 'operation', p_operation));
  END IF;
  prior := v_existing.result || jsonb_build_object('replayed', true);
END $$;

CREATE FUNCTION ledger_op_finish(p_op uuid, p_wallet uuid, p_result jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  UPDATE ledger_operations SET result = p_result, wallet_id = p_wallet WHERE id = p_op;
  RETURN p_result || jsonb_build_object('replayed', false);
END $$;

-- The per-wallet mutex (see the header). p_require_active: grants, reservations, refunds, adjustments.
CREATE FUNCTION ledger_lock_wallet(p_wallet uuid, p_require_active boolean) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_status text;
BEGIN
  SELECT status INTO v_status FROM ledger_wallets WHERE id = p_wallet FOR NO KEY UPDATE;
  IF NOT FOUND THEN
    PERFORM ledger_raise('WalletNotFound', jsonb_build_object('walletId', p_wallet));
  END IF;
  IF p_require_active AND v_status <> 'active' THEN
    PERFORM ledger_raise('WalletClosed', jsonb_build_object('walletId', p_wallet));
  END IF;
END $$;

CREATE FUNCTION ledger_journal_add(p_op uuid, p jsonb, p_kind text, p_amount bigint, p_wallet uuid, p_lot uuid,
  p_hold uuid, p_da bigint, p_dh bigint, p_dc bigint, p_de bigint, p_dr bigint) RETURNS void LANGUAGE sql AS $$
  INSERT INTO ledger_journal (operation_id, idempotency_key, kind, amount, wallet_id, lot_id, hold_id,
    d_available, d_held, d_consumed, d_expired, d_revoked,
    generation_id, refund_request_id, purchase_id, subscription_period_id, actor, reason, created_at)
  VALUES (p_op, p->>'key', p_kind, p_amount, p_wallet, p_lot, p_hold, p_da, p_dh, p_dc, p_de, p_dr,
    p->'refs'->>'generation_id', p->'refs'->>'refund_request_id', p->'refs'->>'purchase_id',
    p->'refs'->>'subscription_period_id', p->'refs'->>'actor', p->'refs'->>'reason', (p->>'now')::timestamptz);
$$;

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
  PERFORM ledger_journal_add(p_op, p, p_journal_kind, p_amount, p_wallet, v_lot, p_hold, p_amount, 0, 0, 0, 0);
  RETURN v_lot;
END $$;

---------------------------------------------------------------------------------------------------------
-- Operations
---------------------------------------------------------------------------------------------------------

CREATE FUNCTION ledger_grant(p jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  v_op uuid; v_prior jsonb; v_lot uuid;
  v_wallet uuid := (p->>'wallet_id')::uuid;
BEGIN
  SELECT op_id, prior INTO v_op, v_prior FROM ledger_op_begin(p, 'grant');
  IF v_prior IS NOT NULL THEN RETURN v_prior; END IF;
  PERFORM ledger_lock_wallet(v_wallet, true);
  v_lot := ledger_new_lot(v_op, p, v_wallet, p->>'kind', (p->>'amount')::bigint,
    (p->>'expires_at')::timestamptz, 'grant', NULL);
  RETURN ledger_op_finish(v_op, v_wallet, jsonb_build_object('operation_id', v_op,
    'lot', (SELECT to_jsonb(l) FROM ledger_lots l WHERE l.id = v_lot)));
END $$;

-- Takes up to p_amount available credits from the wallet's usable lots in consumption order, moving them
-- to p_to ('held' for a reservation, 'revoked' for a negative adjustment), one journal row per lot.
-- Returns the allocations; the caller refuses if they fall short.
CREATE FUNCTION ledger_take(p_op uuid, p jsonb, p_wallet uuid, p_amount bigint, p_hold uuid, p_to text,
  OUT allocations jsonb, OUT taken bigint) LANGUAGE plpgsql AS $$
DECLARE
  v_lot record; v_take bigint; v_seq int := 0;
  v_now timestamptz := (p->>'now')::timestamptz;
BEGIN
  allocations := '[]'::jsonb;
  taken := 0;
  FOR v_lot IN
    SELECT id, available FROM ledger_lots
    WHERE wallet_id = p_wallet AND status = 'active' AND available > 0 AND expires_at > v_now
    ORDER BY expires_at, kind_rank, granted_at, id
  LOOP
    v_take := least(v_lot.available, p_amount - taken);
    v_seq := v_seq + 1;
    IF p_to = 'held' THEN
      UPDATE ledger_lots SET available = available - v_take, held = held + v_take WHERE id = v_lot.id;
      INSERT INTO ledger_hold_allocations (hold_id, seq, lot_id, amount) VALUES (p_hold, v_seq, v_lot.id, v_take);
      PERFORM ledger_journal_add(p_op, p, 'hold', v_take, p_wallet, v_lot.id, p_hold, -v_take, v_take, 0, 0, 0);
    ELSE
      UPDATE ledger_lots SET available = available - v_take, revoked = revoked + v_take WHERE id = v_lot.id;
      PERFORM ledger_journal_add(p_op, p, 'adjust', v_take, p_wallet, v_lot.id, NULL, -v_take, 0, 0, 0, v_take);
    END IF;
    allocations := allocations || jsonb_build_object('lot_id', v_lot.id, 'amount', v_take);
    taken := taken + v_take;
    EXIT WHEN taken = p_amount;
  END LOOP;
END $$;

CREATE FUNCTION ledger_reserve(p jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  v_op uuid; v_prior jsonb; v_allocs jsonb; v_taken bigint;
  v_wallet uuid := (p->>'wallet_id')::uuid;
  v_amount bigint := (p->>'amount')::bigint;
  v_hold uuid := gen_random_uuid();
BEGIN
  SELECT op_id, prior INTO v_op, v_prior FROM ledger_op_begin(p, 'reserve');
  IF v_prior IS NOT NULL THEN RETURN v_prior; END IF;
  PERFORM ledger_lock_wallet(v_wallet, true);
  INSERT INTO ledger_holds (id, wallet_id, state, amount, expires_at, generation_id, created_at, operation_id)
  VALUES (v_hold, v_wallet, 'pending', v_amount, (p->>'hold_expires_at')::timestamptz,
    p->'refs'->>'generation_id', (p->>'now')::timestamptz, v_op);
  SELECT allocations, taken INTO v_allocs, v_taken FROM ledger_take(v_op, p, v_wallet, v_amount, v_hold, 'held');
  IF v_taken < v_amount THEN
    -- Raising undoes everything above, including the claimed idempotency key: nothing changes.
    PERFORM ledger_raise('InsufficientCredits', jsonb_build_object('walletId', v_wallet,
      'requestedCredits', v_amount, 'availableCredits', v_taken, 'shortfallCredits', v_amount - v_taken));
  END IF;
  RETURN ledger_op_finish(v_op, v_wallet, jsonb_build_object('operation_id', v_op, 'hold_id', v_hold,
    'wallet_id', v_wallet, 'amount', v_amount, 'expires_at', p->'hold_expires_at', 'allocations', v_allocs));
END $$;

-- Where credits coming back to a lot go: the lot itself while usable, otherwise the lot's expired/revoked
-- counter plus (by the caller) a new refund lot, so a refund never costs the user.
CREATE FUNCTION ledger_lot_usable(p_lot uuid, p_now timestamptz) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN status = 'active' AND expires_at > p_now THEN 'usable'
              WHEN status = 'revoked' THEN 'revoked' ELSE 'expired' END
  FROM ledger_lots WHERE id = p_lot;
$$;

-- Settles each allocation of a pending hold: the first p_capture credits (allocation order) are captured,
-- the rest released. Returns the per-lot split and the credits that need a new refund lot.
CREATE FUNCTION ledger_settle_allocations(p_op uuid, p jsonb, p_hold ledger_holds, p_capture bigint,
  OUT allocations jsonb, OUT to_refund_lot bigint) LANGUAGE plpgsql AS $$
DECLARE
  v_a record; v_c bigint; v_r bigint; v_where text;
  v_left bigint := p_capture;
  v_now timestamptz := (p->>'now')::timestamptz;
BEGIN
  allocations := '[]'::jsonb;
  to_refund_lot := 0;
  FOR v_a IN SELECT seq, lot_id, amount FROM ledger_hold_allocations WHERE hold_id = p_hold.id ORDER BY seq LOOP
    v_c := least(v_a.amount, v_left);
    v_r := v_a.amount - v_c;
    v_left := v_left - v_c;
    UPDATE ledger_hold_allocations SET captured = v_c, released = v_r WHERE hold_id = p_hold.id AND seq = v_a.seq;
    IF v_c > 0 THEN
      UPDATE ledger_lots SET held = held - v_c, consumed = consumed + v_c WHERE id = v_a.lot_id;
      PERFORM ledger_journal_add(p_op, p, 'capture', v_c, p_hold.wallet_id, v_a.lot_id, p_hold.id, 0, -v_c, v_c, 0, 0);
    END IF;
    IF v_r > 0 THEN
      v_where := ledger_lot_usable(v_a.lot_id, v_now);
      IF v_where = 'usable' THEN
        UPDATE ledger_lots SET held = held - v_r, available = available + v_r WHERE id = v_a.lot_id;
        PERFORM ledger_journal_add(p_op, p, 'release', v_r, p_hold.wallet_id, v_a.lot_id, p_hold.id, v_r, -v_r, 0, 0, 0);
      ELSIF v_where = 'revoked' THEN
        UPDATE ledger_lots SET held = held - v_r, revoked = revoked + v_r WHERE id = v_a.lot_id;
        PERFORM ledger_journal_add(p_op, p, 'release', v_r, p_hold.wallet_id, v_a.lot_id, p_hold.id, 0, -v_r, 0, 0, v_r);
        to_refund_lot := to_refund_lot + v_r;
      ELSE
        UPDATE ledger_lots SET held = held - v_r, expired = expired + v_r WHERE id = v_a.lot_id;
        PERFORM ledger_journal_add(p_op, p, 'release', v_r, p_hold.wallet_id, v_a.lot_id, p_hold.id, 0, -v_r, 0, v_r, 0);
        to_refund_lot := to_refund_lot + v_r;
      END IF;
    END IF;
    allocations := allocations || jsonb_build_object('lot_id', v_a.lot_id, 'captured', v_c, 'released', v_r);
  END LOOP;
END $$;

-- capture (all or part; the rest released), release, or expire (the safety net) a pending hold.
CREATE FUNCTION ledger_settle(p jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  v_op uuid; v_prior jsonb; v_wallet uuid; v_hold ledger_holds; v_capture bigint; v_allocs jsonb;
  v_refund bigint; v_refund_lot uuid; v_state text;
  v_mode text := p->>'mode';
  v_hold_id uuid := (p->>'hold_id')::uuid;
  v_now timestamptz := (p->>'now')::timestamptz;
BEGIN
  SELECT op_id, prior INTO v_op, v_prior FROM ledger_op_begin(p, v_mode);
  IF v_prior IS NOT NULL THEN RETURN v_prior; END IF;
  SELECT wallet_id INTO v_wallet FROM ledger_holds WHERE id = v_hold_id;
  IF NOT FOUND THEN PERFORM ledger_raise('HoldNotFound', jsonb_build_object('holdId', v_hold_id)); END IF;
  PERFORM ledger_lock_wallet(v_wallet, false);
  SELECT * INTO v_hold FROM ledger_holds WHERE id = v_hold_id;  -- re-read under the wallet lock
  IF v_hold.state <> 'pending' THEN
    PERFORM ledger_raise('HoldAlreadyResolved', jsonb_build_object('holdId', v_hold_id, 'state', v_hold.state));
  END IF;
  IF v_mode = 'expire' AND v_hold.expires_at > v_now THEN
    PERFORM ledger_raise('HoldNotExpired', jsonb_build_object('holdId', v_hold_id, 'expiresAt', v_hold.expires_at));
  END IF;
  v_capture := CASE WHEN v_mode = 'capture' THEN coalesce((p->>'amount')::bigint, v_hold.amount) ELSE 0 END;
  IF v_capture > v_hold.amount THEN
    PERFORM ledger_raise('InvalidAmount', jsonb_build_object('field', 'amountCredits',
      'requestedCredits', v_capture, 'holdCredits', v_hold.amount));
  END IF;
  SELECT allocations, to_refund_lot INTO v_allocs, v_refund FROM ledger_settle_allocations(v_op, p, v_hold, v_capture);
  IF v_refund > 0 THEN
    v_refund_lot := ledger_new_lot(v_op, p, v_wallet, 'refund', v_refund,
      v_now + make_interval(days => (p->>'refund_days')::int), 'grant', v_hold_id);
  END IF;
  v_state := CASE v_mode WHEN 'capture' THEN 'captured' WHEN 'release' THEN 'released' ELSE 'expired' END;
  UPDATE ledger_holds SET state = v_state, captured = v_capture, released = amount - v_capture, resolved_at = v_now
  WHERE id = v_hold_id;
  RETURN ledger_op_finish(v_op, v_wallet, jsonb_build_object('operation_id', v_op, 'hold_id', v_hold_id,
    'wallet_id', v_wallet, 'state', v_state, 'captured', v_capture, 'released', v_hold.amount - v_capture,
    'allocations', v_allocs, 'refund_lot_id', v_refund_lot));
END $$;

-- Gives captured credits of a hold back, newest allocation first: into their lot while it is usable,
-- otherwise into one new refund lot.
CREATE FUNCTION ledger_refund(p jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  v_op uuid; v_prior jsonb; v_wallet uuid; v_hold ledger_holds; v_a record; v_x bigint;
  v_allocs jsonb := '[]'::jsonb; v_new bigint := 0; v_refund_lot uuid;
  v_hold_id uuid := (p->>'hold_id')::uuid;
  v_amount bigint := (p->>'amount')::bigint;
  v_left bigint := (p->>'amount')::bigint;
  v_now timestamptz := (p->>'now')::timestamptz;
BEGIN
  SELECT op_id, prior INTO v_op, v_prior FROM ledger_op_begin(p, 'refund');
  IF v_prior IS NOT NULL THEN RETURN v_prior; END IF;
  SELECT wallet_id INTO v_wallet FROM ledger_holds WHERE id = v_hold_id;
  IF NOT FOUND THEN PERFORM ledger_raise('HoldNotFound', jsonb_build_object('holdId', v_hold_id)); END IF;
  PERFORM ledger_lock_wallet(v_wallet, true);
  SELECT * INTO v_hold FROM ledger_holds WHERE id = v_hold_id;
  IF v_amount > v_hold.captured - v_hold.refunded THEN
    PERFORM ledger_raise('RefundExceedsCaptured', jsonb_build_object('holdId', v_hold_id, 'state', v_hold.state,
      'requestedCredits', v_amount, 'refundableCredits', v_hold.captured - v_hold.refunded));
  END IF;
  FOR v_a IN SELECT seq, lot_id, captured - refunded AS refundable FROM ledger_hold_allocations
             WHERE hold_id = v_hold_id AND captured > refunded ORDER BY seq DESC LOOP
    v_x := least(v_a.refundable, v_left);
    v_left := v_left - v_x;
    UPDATE ledger_hold_allocations SET refunded = refunded + v_x WHERE hold_id = v_hold_id AND seq = v_a.seq;
    IF ledger_lot_usable(v_a.lot_id, v_now) = 'usable' THEN
      UPDATE ledger_lots SET consumed = consumed - v_x, available = available + v_x WHERE id = v_a.lot_id;
      PERFORM ledger_journal_add(v_op, p, 'refund', v_x, v_wallet, v_a.lot_id, v_hold_id, v_x, 0, -v_x, 0, 0);
      v_allocs := v_allocs || jsonb_build_object('lot_id', v_a.lot_id, 'amount', v_x);
    ELSE
      v_new := v_new + v_x;
    END IF;
    EXIT WHEN v_left = 0;
  END LOOP;
  IF v_new > 0 THEN
    v_refund_lot := ledger_new_lot(v_op, p, v_wallet, 'refund', v_new,
      v_now + make_interval(days => (p->>'refund_days')::int), 'refund', v_hold_id);
  END IF;
  UPDATE ledger_holds SET refunded = refunded + v_amount WHERE id = v_hold_id;
  RETURN ledger_op_finish(v_op, v_wallet, jsonb_build_object('operation_id', v_op, 'hold_id', v_hold_id,
    'wallet_id', v_wallet, 'refunded', v_amount, 'allocations', v_allocs, 'refund_lot_id', v_refund_lot,
    'refund_lot_amount', v_new));
END $$;

-- expire or revoke a lot: its available credits only; held credits stay with their holds. A lot already
-- closed yields amount 0 (the expiry timer and an account deletion may both get there).
CREATE FUNCTION ledger_close_lot(p jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  v_op uuid; v_prior jsonb; v_wallet uuid; v_lot ledger_lots; v_amount bigint := 0;
  v_mode text := p->>'mode';
  v_lot_id uuid := (p->>'lot_id')::uuid;
BEGIN
  SELECT op_id, prior INTO v_op, v_prior FROM ledger_op_begin(p, v_mode);
  IF v_prior IS NOT NULL THEN RETURN v_prior; END IF;
  SELECT wallet_id INTO v_wallet FROM ledger_lots WHERE id = v_lot_id;
  IF NOT FOUND THEN PERFORM ledger_raise('LotNotFound', jsonb_build_object('lotId', v_lot_id)); END IF;
  PERFORM ledger_lock_wallet(v_wallet, false);
  SELECT * INTO v_lot FROM ledger_lots WHERE id = v_lot_id;
  IF v_lot.status = 'active' THEN
    v_amount := v_lot.available;
    IF v_mode = 'expire' THEN
      UPDATE ledger_lots SET available = 0, expired = expired + v_amount, status = 'expired',
        closed_at = (p->>'now')::timestamptz WHERE id = v_lot_id;
    ELSE
      UPDATE ledger_lots SET available = 0, revoked = revoked + v_amount, status = 'revoked',
        closed_at = (p->>'now')::timestamptz WHERE id = v_lot_id;
    END IF;
    IF v_amount > 0 THEN
      PERFORM ledger_journal_add(v_op, p, v_mode, v_amount, v_wallet, v_lot_id, NULL, -v_amount, 0, 0,
        CASE WHEN v_mode = 'expire' THEN v_amount ELSE 0 END, CASE WHEN v_mode = 'revoke' THEN v_amount ELSE 0 END);
    END IF;
  END IF;
  RETURN ledger_op_finish(v_op, v_wallet, jsonb_build_object('operation_id', v_op, 'lot_id', v_lot_id,
    'wallet_id', v_wallet, 'amount', v_amount));
END $$;

-- Positive: a new adjustment lot. Negative: debit available credits in consumption order (all or nothing).
CREATE FUNCTION ledger_adjust(p jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  v_op uuid; v_prior jsonb; v_lot uuid; v_allocs jsonb := '[]'::jsonb; v_taken bigint;
  v_wallet uuid := (p->>'wallet_id')::uuid;
  v_delta bigint := (p->>'delta')::bigint;
BEGIN
  SELECT op_id, prior INTO v_op, v_prior FROM ledger_op_begin(p, 'adjust');
  IF v_prior IS NOT NULL THEN RETURN v_prior; END IF;
  PERFORM ledger_lock_wallet(v_wallet, true);
  IF v_delta > 0 THEN
    v_lot := ledger_new_lot(v_op, p, v_wallet, 'adjustment', v_delta, (p->>'expires_at')::timestamptz, 'adjust', NULL);
  ELSE
    SELECT allocations, taken INTO v_allocs, v_taken FROM ledger_take(v_op, p, v_wallet, -v_delta, NULL, 'revoked');
    IF v_taken < -v_delta THEN
      PERFORM ledger_raise('InsufficientCredits', jsonb_build_object('walletId', v_wallet,
        'requestedCredits', -v_delta, 'availableCredits', v_taken, 'shortfallCredits', -v_delta - v_taken));
    END IF;
  END IF;
  RETURN ledger_op_finish(v_op, v_wallet, jsonb_build_object('operation_id', v_op, 'wallet_id', v_wallet,
    'delta', v_delta, 'lot_id', v_lot, 'allocations', v_allocs));
END $$;

---------------------------------------------------------------------------------------------------------
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
  jha AS (
    SELECT j.hold_id, j.lot_id, sum(amount) AS amount FROM journal j
    WHERE j.kind = 'hold' GROUP BY j.hold_id, j.lot_id),
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
         jsonb_build_object('allocation', a.amount, 'journal', jha.amount)
  FROM ledger_hold_allocations a JOIN holds h ON h.id = a.hold_id
  LEFT JOIN jha ON jha.hold_id = a.hold_id AND jha.lot_id = a.lot_id
  WHERE jha.amount IS DISTINCT FROM a.amount
$$;

-- Down Migration

DROP FUNCTION IF EXISTS ledger_audit(uuid);
DROP FUNCTION IF EXISTS ledger_adjust(jsonb);
DROP FUNCTION IF EXISTS ledger_close_lot(jsonb);
DROP FUNCTION IF EXISTS ledger_refund(jsonb);
DROP FUNCTION IF EXISTS ledger_settle(jsonb);
DROP FUNCTION IF EXISTS ledger_settle_allocations(uuid, jsonb, ledger_holds, bigint);
DROP FUNCTION IF EXISTS ledger_lot_usable(uuid, timestamptz);
DROP FUNCTION IF EXISTS ledger_reserve(jsonb);
DROP FUNCTION IF EXISTS ledger_take(uuid, jsonb, uuid, bigint, uuid, text);
DROP FUNCTION IF EXISTS ledger_grant(jsonb);
DROP FUNCTION IF EXISTS ledger_new_lot(uuid, jsonb, uuid, text, bigint, timestamptz, text, uuid);
DROP FUNCTION IF EXISTS ledger_journal_add(uuid, jsonb, text, bigint, uuid, uuid, uuid, bigint, bigint, bigint, bigint, bigint);
DROP FUNCTION IF EXISTS ledger_lock_wallet(uuid, boolean);
DROP FUNCTION IF EXISTS ledger_op_finish(uuid, uuid, jsonb);
DROP FUNCTION IF EXISTS ledger_op_begin(jsonb, text);
DROP FUNCTION IF EXISTS ledger_raise(text, jsonb);
DROP TABLE IF EXISTS ledger_journal;
DROP FUNCTION IF EXISTS ledger_journal_immutable();
DROP TABLE IF EXISTS ledger_hold_allocations;
DROP TABLE IF EXISTS ledger_holds;
DROP TABLE IF EXISTS ledger_lots;
DROP TABLE IF EXISTS ledger_operations;
DROP FUNCTION IF EXISTS ledger_operations_write_once();
DROP TABLE IF EXISTS ledger_organization_members;
DROP TABLE IF EXISTS ledger_wallets;
