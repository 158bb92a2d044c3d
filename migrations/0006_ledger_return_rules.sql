-- Up Migration

-- Where credits go when they return to a lot that can no longer take them (architecture §2, "Refund after
-- expiry"). 0001 gave everything that returned to an expired OR a revoked lot back as a new refund lot.
-- A revoke (e.g. a chargeback) takes a lot's available credits; those held at that moment stay with their
-- hold. Re-granting them when the hold was released, or when its captured credits were refunded, let a
-- pending generation shield credits from the revoke. Now credits returning to a REVOKED lot stay revoked
-- there (nothing comes back), and captured credits of a revoked lot are not refundable. Only credits
-- returning to an EXPIRED (or past-expiry) lot come back, as before, as one new refund lot: a technical
-- failure must not cost the user credits that merely ran out meanwhile.
--
-- Except in a closed wallet: it takes no new grants, reservations or refunds (ledger_refund refuses it with
-- WalletClosed), yet a settlement gave it an active refund lot. Credits a settlement releases into an
-- expired lot of a closed wallet now stay expired there.
--
-- ledger_audit learns these rules (and checks refunds per allocation, and that a closed lot keeps no
-- available credits). Note: settlements made by 0001's ledger_settle that re-granted revoked credits are
-- reported by it (release_refund_lot) — they are that bug's traces.
--
-- Existing databases ran 0001, so the changed functions are replaced here; the Down section restores 0001's.

-- capture (all or part; the rest released), release, or expire (the safety net) a pending hold.
-- Released credits go back to their lot while it is usable. Otherwise they stay out of circulation on that
-- lot: counted revoked on a revoked lot (for good: the revoke took that lot back), expired on an expired or
-- past-expiry one — and those expired ones come back as one new refund lot, unless the wallet is closed.
-- Written out in full like ledger_reserve: idempotency probe, the hold's resolving update (which also
-- settles its allocations), ONE statement for the operation's own rows, then the lot updates.
CREATE OR REPLACE FUNCTION ledger_settle(p jsonb) RETURNS jsonb LANGUAGE plpgsql
  SET enable_seqscan = off  -- see "Plans" in 0001's header
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
    -- Only credits that merely ran out come back; those of a revoked lot stay revoked.
    IF v_dests[i] = 'expired' THEN v_refund := v_refund + v_rels[i]; END IF;
    v_allocs := v_allocs || jsonb_build_object('lot_id', v_lots[i], 'captured', v_caps[i], 'released', v_rels[i]);
  END LOOP;
  -- A closed wallet gets no new lot (as ledger_grant and ledger_refund refuse it one): they stay expired.
  -- Read without a lock like every wallet status (see ledger_check_wallet), and only on this rare path.
  IF v_refund > 0 AND NOT EXISTS (SELECT 1 FROM ledger_wallets w WHERE w.id = v_wallet AND w.status = 'active') THEN
    v_refund := 0;
  END IF;
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
    -- Rare: credits released into expired lots come back as one new refund lot.
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

-- Gives captured credits of a hold back, newest allocation first: into their lot while it is usable, into
-- one new refund lot where the lot has expired. Captured credits of a lot revoked since are not refundable
-- (the revoke took that lot back; a refund would hand its credits out again): the walk skips them, and a
-- refund larger than what remains refundable is refused whole. Lot rows are updated in consumption order
-- (the lock order).
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

-- Audit: 0001's checks, plus the return rules above, each of which the journal alone can show broken:
--   release_destination  a release row returned credits to `available` of a lot past its expiry, to
--                        `expired` of a lot neither expired nor past its expiry, or to `revoked` of a lot
--                        not revoked (lots only ever become unusable, so today's state bounds the past one);
--   release_refund_lot   a settlement's credits released into expired lots do not reappear, exactly, as the
--                        grant of one refund lot whose source_hold_id is the hold (none is due when the wallet
--                        is closed), or it granted a refund lot for anything else (e.g. revoked credits);
--   refund_allocation    a refund row returned credits to a lot the hold has no allocation on, or more than
--                        that allocation's refunded part; or an allocation's refunded part went to a new lot
--                        although its lot was usable at every refund of the hold;
--   refund_lot_source    a refund row granting a new lot that is not a refund lot of that hold and operation;
--   closed_lot_available an expired or revoked lot still has available credits.

CREATE OR REPLACE FUNCTION ledger_audit(p_wallet uuid)
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
    JOIN holds h ON h.id = a.hold_id AND h.state = 'pending' GROUP BY a.lot_id),
  -- Per settlement (operation and hold): what it released into expired lots, what it granted (grant rows
  -- carry a hold only there), and how much of that went to a refund lot of this hold and operation.
  settled AS (
    SELECT j.operation_id, j.hold_id, j.wallet_id,
           coalesce(sum(j.d_expired) FILTER (WHERE j.kind = 'release'), 0) AS expired,
           coalesce(sum(j.amount) FILTER (WHERE j.kind = 'grant'), 0) AS granted,
           coalesce(sum(j.amount) FILTER (WHERE j.kind = 'grant' AND l.kind = 'refund'
             AND l.source_hold_id = j.hold_id AND l.operation_id = j.operation_id), 0) AS granted_as_refund_lot
    FROM journal j LEFT JOIN ledger_lots l ON l.id = j.lot_id
    WHERE j.hold_id IS NOT NULL AND (j.kind = 'grant' OR (j.kind = 'release' AND j.d_expired > 0))
    GROUP BY j.operation_id, j.hold_id, j.wallet_id),
  -- Refund rows that gave credits back to a lot (the others grant a new refund lot), per hold and lot.
  refunded_back AS (
    SELECT j.wallet_id, j.hold_id, j.lot_id, sum(j.amount) AS amount
    FROM journal j WHERE j.kind = 'refund' AND j.d_consumed <> 0 GROUP BY j.wallet_id, j.hold_id, j.lot_id),
  last_refund AS (
    SELECT j.hold_id, max(j.created_at) AS at FROM journal j WHERE j.kind = 'refund' GROUP BY j.hold_id)

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

  -- Where returning credits went (the return rules above).
  UNION ALL
  SELECT 'release_destination', j.wallet_id, j.lot_id, j.hold_id,
         jsonb_build_object('entryId', j.id, 'at', j.created_at, 'lotStatus', l.status, 'lotExpiresAt', l.expires_at,
           'to', CASE WHEN j.d_available > 0 THEN 'available' WHEN j.d_expired > 0 THEN 'expired' ELSE 'revoked' END)
  FROM journal j JOIN ledger_lots l ON l.id = j.lot_id
  WHERE j.kind = 'release' AND CASE
    WHEN j.d_available > 0 THEN l.expires_at <= j.created_at
    WHEN j.d_expired > 0 THEN l.status <> 'expired' AND l.expires_at > j.created_at
    WHEN j.d_revoked > 0 THEN l.status <> 'revoked'
    ELSE false END

  UNION ALL
  SELECT 'release_refund_lot', s.wallet_id, NULL, s.hold_id,
         jsonb_build_object('operationId', s.operation_id, 'releasedToExpired', s.expired, 'granted', s.granted,
           'grantedAsRefundLot', s.granted_as_refund_lot, 'walletStatus', w.status)
  FROM settled s LEFT JOIN ledger_wallets w ON w.id = s.wallet_id
  WHERE s.granted <> s.granted_as_refund_lot
     OR (s.granted <> s.expired AND NOT (s.granted = 0 AND w.status = 'closed'))

  UNION ALL
  SELECT 'refund_allocation', rb.wallet_id, rb.lot_id, rb.hold_id,
         jsonb_build_object('refundedToLot', rb.amount, 'allocationRefunded', a.refunded)
  FROM refunded_back rb
  LEFT JOIN ledger_hold_allocations a ON a.hold_id = rb.hold_id AND a.lot_id = rb.lot_id
  WHERE a.hold_id IS NULL OR rb.amount > a.refunded

  UNION ALL
  SELECT 'refund_allocation', h.wallet_id, a.lot_id, a.hold_id,
         jsonb_build_object('refundedToLot', coalesce(rb.amount, 0), 'allocationRefunded', a.refunded,
           'lotUsableUntil', l.expires_at, 'lastRefundAt', lr.at)
  FROM ledger_hold_allocations a JOIN holds h ON h.id = a.hold_id
  JOIN last_refund lr ON lr.hold_id = a.hold_id
  JOIN ledger_lots l ON l.id = a.lot_id
  LEFT JOIN refunded_back rb ON rb.hold_id = a.hold_id AND rb.lot_id = a.lot_id
  WHERE a.refunded > coalesce(rb.amount, 0) AND l.status = 'active' AND l.expires_at > lr.at

  UNION ALL
  SELECT 'refund_lot_source', j.wallet_id, j.lot_id, j.hold_id,
         jsonb_build_object('entryId', j.id, 'lotKind', l.kind, 'lotSourceHoldId', l.source_hold_id)
  FROM journal j LEFT JOIN ledger_lots l ON l.id = j.lot_id
  WHERE j.kind = 'refund' AND j.d_consumed = 0
    AND (l.id IS NULL OR l.kind <> 'refund' OR l.source_hold_id IS DISTINCT FROM j.hold_id
         OR l.operation_id <> j.operation_id)

  UNION ALL
  SELECT 'closed_lot_available', l.wallet_id, l.id, NULL,
         jsonb_build_object('status', l.status, 'available', l.available)
  FROM lots l
  WHERE l.status <> 'active' AND l.available <> 0

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

-- 0001's definitions.

-- capture (all or part; the rest released), release, or expire (the safety net) a pending hold.
-- Released credits go back to their lot while it is usable; otherwise they count as expired (or revoked)
-- on that lot and come back in one new refund lot, so a technical failure never costs the user.
-- Written out in full like ledger_reserve: idempotency probe, the hold's resolving update (which also
-- settles its allocations), ONE statement for the operation's own rows, then the lot updates.
CREATE OR REPLACE FUNCTION ledger_settle(p jsonb) RETURNS jsonb LANGUAGE plpgsql
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
CREATE OR REPLACE FUNCTION ledger_refund(p jsonb) RETURNS jsonb LANGUAGE plpgsql
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

-- Audit: recomputes everything from the journal and returns every violation (empty = consistent).
-- Wallet balances are not stored (they are the sum of the wallet's lots), so there is no wallet total to
-- drift; lot counters, hold totals and allocations are all checked against the journal.
---------------------------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION ledger_audit(p_wallet uuid)
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
