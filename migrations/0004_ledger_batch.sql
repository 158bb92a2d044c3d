-- Up Migration

-- Group commit for the hot path. Reservations and settlements that arrive while an earlier call is still
-- in Postgres are sent together (src/ledger/batcher.ts) and run here, each in a subtransaction of ONE
-- transaction: one round trip, one commit and one WAL flush for the whole group, and on a hot lot one
-- lock window instead of one per operation. Each call is exactly the single-call function (ledger_reserve,
-- ledger_settle), so the money rules live in one place.
--
-- Isolation. Every call runs in its own subtransaction (BEGIN … EXCEPTION): a refused or failed call is
-- rolled back alone — it leaves no trace, its row locks are released — and reported with its SQLSTATE,
-- message, detail and constraint, which the caller maps exactly as if the call had been made on its own
-- (refusal, or retry). Later calls in the group see the earlier ones' writes (one transaction), so two
-- calls with one idempotency key in one group replay rather than race.
--
-- Lock order. A group holds the locks of its earlier calls while it runs its later ones, so two groups in
-- flight at once could take the same rows in opposite orders. Calls therefore run ordered by wallet (a
-- settlement by its hold's wallet), and within a call in the ledger's own order (hold, then lots in
-- consumption order): two groups meet on wallets in ascending order and wait rather than deadlock. What
-- remains (one hold settled by two groups at once; a wallet's lots used in a different order across calls
-- of two groups) is left to Postgres' deadlock detector: the victim call fails with 40P01 inside its own
-- subtransaction and is retried by the caller; the rest of its group is unaffected.
--
-- Slow neighbours. A caller runs only a couple of groups at once, so a group stuck behind a row lock would
-- hold up every call behind it: groups wait at most 1 s for a lock (lock_timeout below). The call that timed
-- out fails alone with 55P03, and the caller sends it again outside the groups, where it may wait.
--
-- At most 32 calls per group (the caller's limit, and refused here): beyond 64 subtransactions with writes
-- a transaction's snapshot overflows, and every other backend starts reading pg_subtrans.
--
-- p_params is one jsonb array (element i for p_fns[i + 1]) and so is the result: one value to parse each way,
-- rather than an array of jsonb values quoted and parsed one by one.
CREATE FUNCTION ledger_batch(p_fns text[], p_params jsonb) RETURNS jsonb LANGUAGE plpgsql
  SET enable_seqscan = off  -- see "Plans" in 0001_ledger.sql
  SET lock_timeout = '1s'
AS $$
DECLARE
  v_out jsonb[] := '{}';
  v_order int[];
  v_i int;
  v_state text; v_message text; v_detail text; v_constraint text;
BEGIN
  IF coalesce(array_length(p_fns, 1), 0) <> jsonb_array_length(p_params) OR coalesce(array_length(p_fns, 1), 0) > 32 THEN
    RAISE EXCEPTION 'ledger_batch: % functions for % parameter sets (at most 32)',
      array_length(p_fns, 1), jsonb_array_length(p_params);
  END IF;
  IF array_length(p_fns, 1) = 1 THEN
    v_order := ARRAY[1];  -- a lone call (an idle ledger's every call): nothing to order, no query for it
  ELSE
    SELECT array_agg(u.i::int ORDER BY coalesce(h.wallet_id, (u.p->>'wallet_id')::uuid), u.i) INTO v_order
    FROM ROWS FROM (unnest(p_fns), jsonb_array_elements(p_params)) WITH ORDINALITY AS u(fn, p, i)
    LEFT JOIN LATERAL (SELECT x.wallet_id FROM ledger_holds x
                       WHERE u.fn = 'ledger_settle' AND x.id = (u.p->>'hold_id')::uuid OFFSET 0) h ON true;
  END IF;
  v_out := array_fill(NULL::jsonb, ARRAY[coalesce(array_length(p_fns, 1), 0)]);
  FOREACH v_i IN ARRAY coalesce(v_order, '{}') LOOP
    BEGIN
      v_out[v_i] := CASE p_fns[v_i]
        WHEN 'ledger_reserve' THEN jsonb_build_object('r', ledger_reserve(p_params -> (v_i - 1)))
        WHEN 'ledger_settle' THEN jsonb_build_object('r', ledger_settle(p_params -> (v_i - 1)))
      END;
      IF v_out[v_i] IS NULL THEN
        RAISE EXCEPTION 'ledger_batch: % cannot be batched', p_fns[v_i];
      END IF;
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
        v_detail = PG_EXCEPTION_DETAIL, v_constraint = CONSTRAINT_NAME;
      v_out[v_i] := jsonb_build_object('e', jsonb_build_object('code', v_state, 'message', v_message,
        'detail', nullif(v_detail, ''), 'constraint', nullif(v_constraint, '')));
    END;
  END LOOP;
  RETURN to_jsonb(v_out);
END $$;


-- Down Migration

DROP FUNCTION IF EXISTS ledger_batch(text[], jsonb);
