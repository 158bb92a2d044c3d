-- Up Migration

-- Concurrent copies of one request (same idempotency key) that wait on a lock the first copy holds must answer
-- what the serial order "first copy, then the copy" answers: the first result with replayed = true (or
-- IdempotencyConflict if the content differs) — never a refusal that only the first copy's own effect caused.
-- Reservations and settlements already re-probe the key before refusing; two operations did not:
--   ledger_adjust  a negative adjustment's copy waits on the lots the first locked, then finds their credits
--                  gone (taken by the first) and answered InsufficientCredits;
--   ledger_refund  a refund's copy waits on the hold's row; if the wallet was closed before the first
--                  committed, it answered WalletClosed.
-- Both now probe the key again on that refusal path only (the common path is unchanged).

CREATE OR REPLACE FUNCTION ledger_adjust(p jsonb) RETURNS jsonb LANGUAGE plpgsql
  SET enable_seqscan = off  -- see "Plans" in 0001's header
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
      -- A copy of this request (same key) may have committed while we waited for the lots' locks, having
      -- taken the very credits we now miss: its result (or IdempotencyConflict) is the answer, as in
      -- ledger_reserve. This statement's snapshot is newer than that commit. Only the refusal path pays.
      v_prior := ledger_op_begin(p, 'adjust');
      IF v_prior IS NOT NULL THEN RETURN v_prior; END IF;
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

CREATE OR REPLACE FUNCTION ledger_refund(p jsonb) RETURNS jsonb LANGUAGE plpgsql
  SET enable_seqscan = off  -- see "Plans" in 0001's header
AS $$
DECLARE
  v_op uuid; v_prior jsonb; v_hold ledger_holds; v_a record; v_x bigint; v_new bigint := 0; v_refund_lot uuid;
  v_lots uuid[] := '{}'; v_back bigint[] := '{}'; v_result jsonb; v_ref bigint[];
  v_hold_id uuid := (p->>'hold_id')::uuid;
  v_amount bigint := (p->>'amount')::bigint;
  v_left bigint := (p->>'amount')::bigint;
  v_now timestamptz := (p->>'now')::timestamptz;
BEGIN
  v_op := uuidv7();
  v_prior := ledger_op_begin(p, 'refund');
  IF v_prior IS NOT NULL THEN RETURN v_prior; END IF;
  -- Serializes refunds of one hold: what was already refunded cannot change under the walk below. (0001
  -- locked it with an update guarded by captured - refunded; what is refundable now depends on the lots.)
  SELECT * INTO v_hold FROM ledger_holds WHERE id = v_hold_id FOR NO KEY UPDATE;
  IF NOT FOUND THEN PERFORM ledger_raise('HoldNotFound', jsonb_build_object('holdId', v_hold_id)); END IF;
  -- A copy of this request (same key) may have committed while we waited for the hold's row lock, and the
  -- wallet closed since: that refund's result (or IdempotencyConflict) is the answer, not WalletClosed.
  IF NOT EXISTS (SELECT 1 FROM ledger_wallets w WHERE w.id = v_hold.wallet_id AND w.status = 'active') THEN
    v_prior := ledger_op_begin(p, 'refund');
    IF v_prior IS NOT NULL THEN RETURN v_prior; END IF;
    PERFORM ledger_check_wallet(v_hold.wallet_id, true);  -- raises the precise refusal
  END IF;
  v_ref := coalesce(v_hold.alloc_refunded, array_fill(0::bigint, ARRAY[array_length(v_hold.alloc_lots, 1)]));
  -- Lot statuses are plain reads: a lot revoked after this read fails the guarded update below (retry);
  -- one already past expiry may be revoked meanwhile, which orders that revoke after this refund.
  FOR v_a IN SELECT a.seq, a.lot_id, a.captured - a.refunded AS refundable, l.status, l.expires_at
             FROM ledger_hold_allocations a
             CROSS JOIN LATERAL (SELECT x.status, x.expires_at FROM ledger_lots x WHERE x.id = a.lot_id OFFSET 0) l
             WHERE a.hold_id = v_hold_id AND a.captured > a.refunded AND l.status <> 'revoked'
             ORDER BY a.seq DESC LOOP
    EXIT WHEN v_left = 0;
    v_x := least(v_a.refundable, v_left);
    v_left := v_left - v_x;
    v_ref[v_a.seq] := v_ref[v_a.seq] + v_x;
    IF v_a.status = 'active' AND v_a.expires_at > v_now THEN
      v_lots := v_a.lot_id || v_lots; v_back := v_x || v_back;  -- ascending seq
    ELSE
      v_new := v_new + v_x;
    END IF;
  END LOOP;
  IF v_left > 0 THEN
    -- A refund with our key may have committed while we waited for the hold's row lock: replay it (we have
    -- written nothing yet).
    v_prior := ledger_op_begin(p, 'refund');
    IF v_prior IS NOT NULL THEN RETURN v_prior; END IF;
    -- The walk took everything refundable, so that is what it found: v_amount - v_left.
    PERFORM ledger_raise('RefundExceedsCaptured', jsonb_build_object('holdId', v_hold_id, 'state', v_hold.state,
      'requestedCredits', v_amount, 'refundableCredits', v_amount - v_left));
  END IF;
  UPDATE ledger_holds SET refunded = refunded + v_amount, alloc_refunded = v_ref WHERE id = v_hold_id;  -- locked above
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


-- Down Migration

-- 0001's ledger_adjust and 0006's ledger_refund.
CREATE OR REPLACE FUNCTION ledger_adjust(p jsonb) RETURNS jsonb LANGUAGE plpgsql
  SET enable_seqscan = off  -- see "Plans" in 0001's header
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

CREATE OR REPLACE FUNCTION ledger_refund(p jsonb) RETURNS jsonb LANGUAGE plpgsql
  SET enable_seqscan = off  -- see "Plans" in 0001's header
AS $$
DECLARE
  v_op uuid; v_prior jsonb; v_hold ledger_holds; v_a record; v_x bigint; v_new bigint := 0; v_refund_lot uuid;
  v_lots uuid[] := '{}'; v_back bigint[] := '{}'; v_result jsonb; v_ref bigint[];
  v_hold_id uuid := (p->>'hold_id')::uuid;
  v_amount bigint := (p->>'amount')::bigint;
  v_left bigint := (p->>'amount')::bigint;
  v_now timestamptz := (p->>'now')::timestamptz;
BEGIN
  v_op := uuidv7();
  v_prior := ledger_op_begin(p, 'refund');
  IF v_prior IS NOT NULL THEN RETURN v_prior; END IF;
  -- Serializes refunds of one hold: what was already refunded cannot change under the walk below. (0001
  -- locked it with an update guarded by captured - refunded; what is refundable now depends on the lots.)
  SELECT * INTO v_hold FROM ledger_holds WHERE id = v_hold_id FOR NO KEY UPDATE;
  IF NOT FOUND THEN PERFORM ledger_raise('HoldNotFound', jsonb_build_object('holdId', v_hold_id)); END IF;
  PERFORM ledger_check_wallet(v_hold.wallet_id, true);
  v_ref := coalesce(v_hold.alloc_refunded, array_fill(0::bigint, ARRAY[array_length(v_hold.alloc_lots, 1)]));
  -- Lot statuses are plain reads: a lot revoked after this read fails the guarded update below (retry);
  -- one already past expiry may be revoked meanwhile, which orders that revoke after this refund.
  FOR v_a IN SELECT a.seq, a.lot_id, a.captured - a.refunded AS refundable, l.status, l.expires_at
             FROM ledger_hold_allocations a
             CROSS JOIN LATERAL (SELECT x.status, x.expires_at FROM ledger_lots x WHERE x.id = a.lot_id OFFSET 0) l
             WHERE a.hold_id = v_hold_id AND a.captured > a.refunded AND l.status <> 'revoked'
             ORDER BY a.seq DESC LOOP
    EXIT WHEN v_left = 0;
    v_x := least(v_a.refundable, v_left);
    v_left := v_left - v_x;
    v_ref[v_a.seq] := v_ref[v_a.seq] + v_x;
    IF v_a.status = 'active' AND v_a.expires_at > v_now THEN
      v_lots := v_a.lot_id || v_lots; v_back := v_x || v_back;  -- ascending seq
    ELSE
      v_new := v_new + v_x;
    END IF;
  END LOOP;
  IF v_left > 0 THEN
    -- A refund with our key may have committed while we waited for the hold's row lock: replay it (we have
    -- written nothing yet).
    v_prior := ledger_op_begin(p, 'refund');
    IF v_prior IS NOT NULL THEN RETURN v_prior; END IF;
    -- The walk took everything refundable, so that is what it found: v_amount - v_left.
    PERFORM ledger_raise('RefundExceedsCaptured', jsonb_build_object('holdId', v_hold_id, 'state', v_hold.state,
      'requestedCredits', v_amount, 'refundableCredits', v_amount - v_left));
  END IF;
  UPDATE ledger_holds SET refunded = refunded + v_amount, alloc_refunded = v_ref WHERE id = v_hold_id;  -- locked above
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
