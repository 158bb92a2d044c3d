-- Up Migration

-- A group's lock budget is the group's, not each call's (0004 promised "groups wait at most 1 s for a lock",
-- but lock_timeout counts each wait apart): k calls on a wallet another session had locked waited k seconds
-- one after another, holding the locks of the calls already done — and with two groups in flight, holding up
-- every reservation and settlement of the process. Now a call on a wallet that a call of the same group has
-- already timed out on is deferred without waiting, and so is every call once the group has run for a second.
-- A deferred call answers 55P03 like a timed-out one, and the caller sends it again alone, outside the groups.

CREATE OR REPLACE FUNCTION ledger_batch(p_fns text[], p_params jsonb) RETURNS jsonb LANGUAGE plpgsql
  SET enable_seqscan = off  -- see "Plans" in 0001_ledger.sql
  SET lock_timeout = '1s'
AS $$
DECLARE
  v_out jsonb[] := '{}';
  v_order int[];          -- call indexes in run order
  v_wallets uuid[];       -- each one's wallet, in the same order
  v_late uuid[] := '{}';  -- wallets a call of this group timed out on
  v_budget_ends timestamptz := clock_timestamp() + interval '1 second';
  v_k int;
  v_i int;
  v_state text; v_message text; v_detail text; v_constraint text;
BEGIN
  IF coalesce(array_length(p_fns, 1), 0) <> jsonb_array_length(p_params) OR coalesce(array_length(p_fns, 1), 0) > 32 THEN
    RAISE EXCEPTION 'ledger_batch: % functions for % parameter sets (at most 32)',
      array_length(p_fns, 1), jsonb_array_length(p_params);
  END IF;
  IF array_length(p_fns, 1) = 1 THEN
    v_order := ARRAY[1];  -- a lone call (an idle ledger's every call): nothing to order, no query for it
    v_wallets := ARRAY[NULL::uuid];
  ELSE
    SELECT array_agg(u.i::int ORDER BY w.id, u.i), array_agg(w.id ORDER BY w.id, u.i) INTO v_order, v_wallets
    FROM ROWS FROM (unnest(p_fns), jsonb_array_elements(p_params)) WITH ORDINALITY AS u(fn, p, i)
    LEFT JOIN LATERAL (SELECT x.wallet_id FROM ledger_holds x
                       WHERE u.fn = 'ledger_settle' AND x.id = (u.p->>'hold_id')::uuid OFFSET 0) h ON true
    CROSS JOIN LATERAL (SELECT coalesce(h.wallet_id, (u.p->>'wallet_id')::uuid) AS id) w;
  END IF;
  v_out := array_fill(NULL::jsonb, ARRAY[coalesce(array_length(p_fns, 1), 0)]);
  FOR v_k IN 1 .. coalesce(array_length(v_order, 1), 0) LOOP
    v_i := v_order[v_k];
    -- Deferred, not run: a call on a wallet another call of this group already timed out on (it would wait
    -- its own second, holding every lock taken so far), and every call once the group has spent its second.
    -- The caller sends deferred calls again alone, as it does timed-out ones.
    IF v_wallets[v_k] = ANY (v_late) OR clock_timestamp() > v_budget_ends THEN
      v_out[v_i] := jsonb_build_object('e', jsonb_build_object('code', '55P03',
        'message', 'ledger_batch: deferred (this group has waited its lock budget)', 'detail', NULL, 'constraint', NULL));
      CONTINUE;
    END IF;
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
      IF v_state = '55P03' AND v_wallets[v_k] IS NOT NULL THEN v_late := v_late || v_wallets[v_k]; END IF;
      v_out[v_i] := jsonb_build_object('e', jsonb_build_object('code', v_state, 'message', v_message,
        'detail', nullif(v_detail, ''), 'constraint', nullif(v_constraint, '')));
    END;
  END LOOP;
  RETURN to_jsonb(v_out);
END $$;


-- Down Migration

-- 0004's definition.
CREATE OR REPLACE FUNCTION ledger_batch(p_fns text[], p_params jsonb) RETURNS jsonb LANGUAGE plpgsql
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
