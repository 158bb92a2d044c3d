-- Up Migration

-- ledger_audit, restated from 0006 with the corruptions it did not see (each shown by a test in
-- test/ledger/audit-corruptions.test.ts: rows that are each self-consistent, with counters that follow them):
--   lot_origin         a lot is created by exactly one journal row (grant, positive adjust, refund into a new
--                      lot) of the lot's own operation, and no operation creates two lots. 0006 summed the rows,
--                      so a duplicated grant row with the lot grown to match, or a lot added with a grant row
--                      under an existing grant operation, was credits from nowhere that it did not report;
--   journal_duplicate  one operation writes at most one row of a kind per lot (a reservation, settlement,
--                      refund or adjustment touches each lot once): a row written twice, counters following it
--                      (a second debit of a negative adjustment, a refund applied twice), went unseen;
--   lot_closure        expire / revoke rows come only from expireLot / revokeLot, which close the lot: at most
--                      one per lot, and the lot's status says so (an active lot debited by a revoke row, or an
--                      expired lot set active again, went unseen);
--   journal_operation  a row's kind fits its operation (hold ← reserve, grant ← grant or a settlement's refund
--                      lot, …) and the operation is on the row's wallet: a row filed under another operation
--                      (e.g. a made-up grant under a reservation) went unseen;
--   operation_journal  an operation has journal rows (only an expireLot / revokeLot that found nothing available
--                      writes none): a lot deleted together with its journal rows left no trace but its
--                      operations;
--   hold_totals        also: a settled hold's state is its settlement's (captured ← capture, released ←
--                      release, expired ← expire); a captured hold set to released, counts unchanged, went unseen.
-- journal_orphan now finds a row's operation by the operations' primary key (its idempotency key, which must
-- match too) instead of a hash of every operation's id: a wallet's audit no longer reads all operations for it.
-- operation_journal still has to (there is no index by wallet: each is one more insertion per operation), so a
-- wallet's audit costs one scan of ledger_operations, as before.

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
           count(DISTINCT operation_id) FILTER (WHERE kind IN ('capture', 'release')) AS settlements,
           min(idempotency_key) FILTER (WHERE kind IN ('capture', 'release')) AS settlement_key
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
    SELECT j.hold_id, max(j.created_at) AS at FROM journal j WHERE j.kind = 'refund' GROUP BY j.hold_id),
  -- The rows that create a lot (its grant, a positive adjustment, a refund into a new lot), per lot.
  origin AS (
    SELECT j.lot_id, count(*) AS n, (array_agg(j.operation_id))[1] AS operation_id
    FROM journal j
    WHERE j.kind = 'grant' OR (j.kind = 'adjust' AND j.d_available > 0) OR (j.kind = 'refund' AND j.d_consumed = 0)
    GROUP BY j.lot_id),
  lots_per_operation AS (SELECT l.operation_id, count(*) AS n FROM lots l GROUP BY l.operation_id),
  -- The rows that close a lot (expireLot / revokeLot taking its available credits), per lot.
  closing AS (
    SELECT j.lot_id, count(*) AS n, min(j.kind) AS kind FROM journal j WHERE j.kind IN ('expire', 'revoke')
    GROUP BY j.lot_id)

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
           'settlements', jh.settlements, 'eachAllocationSettled', ah.each_settled, 'settledBy', so.operation)
  FROM holds h LEFT JOIN ah ON ah.hold_id = h.id LEFT JOIN jh ON jh.hold_id = h.id
  LEFT JOIN ledger_operations so ON so.idempotency_key = jh.settlement_key
  WHERE ah.amount IS DISTINCT FROM h.amount
     OR (ah.captured, ah.released, ah.refunded) IS DISTINCT FROM (h.captured, h.released, h.refunded)
     OR (jh.held, jh.captured, jh.released, jh.refunded) IS DISTINCT FROM (h.amount, h.captured, h.released, h.refunded)
     OR jh.settlements > 1
     OR (h.state = 'pending' AND (h.captured <> 0 OR h.released <> 0 OR jh.settlements <> 0))
     OR (h.state <> 'pending' AND h.captured + h.released <> h.amount)
     OR h.refunded > h.captured
     OR ah.each_settled IS NOT TRUE
     -- The state is the settling operation's (a capture leaves it captured even if it released a part).
     OR (h.state <> 'pending' AND so.operation IS DISTINCT FROM
         CASE h.state WHEN 'captured' THEN 'capture' WHEN 'released' THEN 'release' ELSE 'expire' END)

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

  -- Where credits come from and what each row belongs to (0010).
  UNION ALL
  SELECT 'lot_origin', l.wallet_id, l.id, NULL,
         jsonb_build_object('creatingRows', coalesce(o.n, 0), 'rowOperationId', o.operation_id,
           'lotOperationId', l.operation_id, 'lotsOfOperation', lpo.n)
  FROM lots l LEFT JOIN origin o ON o.lot_id = l.id JOIN lots_per_operation lpo ON lpo.operation_id = l.operation_id
  WHERE o.n IS DISTINCT FROM 1 OR o.operation_id <> l.operation_id OR lpo.n > 1

  UNION ALL
  SELECT 'journal_duplicate', (array_agg(j.wallet_id))[1], j.lot_id, (array_agg(j.hold_id))[1],
         jsonb_build_object('operationId', j.operation_id, 'kind', j.kind, 'entryIds', jsonb_agg(j.id ORDER BY j.id))
  FROM journal j
  GROUP BY j.operation_id, j.lot_id, j.kind
  HAVING count(*) > 1

  UNION ALL
  SELECT 'lot_closure', l.wallet_id, l.id, NULL,
         jsonb_build_object('status', l.status, 'closingRows', cl.n, 'kind', cl.kind)
  FROM lots l JOIN closing cl ON cl.lot_id = l.id
  WHERE cl.n > 1 OR l.status IS DISTINCT FROM CASE cl.kind WHEN 'expire' THEN 'expired' ELSE 'revoked' END

  UNION ALL
  SELECT 'journal_operation', j.wallet_id, j.lot_id, j.hold_id,
         jsonb_build_object('entryId', j.id, 'kind', j.kind, 'operation', o.operation, 'operationWalletId', o.wallet_id)
  FROM journal j JOIN ledger_operations o ON o.idempotency_key = j.idempotency_key AND o.id = j.operation_id
  WHERE o.wallet_id IS DISTINCT FROM j.wallet_id OR NOT CASE j.kind
    WHEN 'grant'   THEN CASE WHEN j.hold_id IS NULL THEN o.operation = 'grant' ELSE o.operation IN ('capture', 'release', 'expire') END
    WHEN 'hold'    THEN o.operation = 'reserve'
    WHEN 'capture' THEN o.operation = 'capture'
    WHEN 'release' THEN o.operation IN ('capture', 'release', 'expire')
    WHEN 'refund'  THEN o.operation = 'refund'
    WHEN 'expire'  THEN o.operation = 'expire' AND j.hold_id IS NULL
    WHEN 'revoke'  THEN o.operation = 'revoke'
    WHEN 'adjust'  THEN o.operation = 'adjust'
    ELSE false END

  -- Only an expireLot / revokeLot that found nothing available writes no journal row.
  UNION ALL
  SELECT 'operation_journal', o.wallet_id, NULL, NULL,
         jsonb_build_object('operationId', o.id, 'operation', o.operation, 'idempotencyKey', o.idempotency_key)
  FROM ledger_operations o
  WHERE (p_wallet IS NULL OR o.wallet_id = p_wallet)
    AND NOT (o.operation IN ('expire', 'revoke') AND o.result ? 'lot_id' AND o.result->>'amount' = '0')
    AND NOT EXISTS (SELECT 1 FROM journal j WHERE j.operation_id = o.id)

  -- References (the hot tables carry no foreign keys; see ledger_holds).
  UNION ALL
  SELECT 'journal_orphan', j.wallet_id, j.lot_id, j.hold_id, jsonb_build_object('entryId', j.id)
  FROM journal j
  WHERE NOT EXISTS (SELECT 1 FROM ledger_lots l WHERE l.id = j.lot_id)
     OR (j.hold_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ledger_holds h WHERE h.id = j.hold_id AND h.wallet_id = j.wallet_id))
     -- By the operations' primary key (the row's key), not a scan of every operation for its id.
     OR NOT EXISTS (SELECT 1 FROM ledger_operations o WHERE o.idempotency_key = j.idempotency_key AND o.id = j.operation_id)

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

-- 0006's ledger_audit.
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

