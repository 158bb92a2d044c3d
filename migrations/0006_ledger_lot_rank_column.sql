-- Up Migration

-- ledger_lots.kind_rank (the consumption order's tie-break at equal expiry) becomes a plain column, set by a
-- BEFORE INSERT trigger and checked by the table's CHECK, instead of a stored generated column.
--
-- Why. Postgres reads a stored generated column's expression back from its text form for every UPDATE of
-- the table — to learn whether the update could change it — even though `kind` never changes after the lot
-- is granted. Lot updates are the ledger's contended step (every reservation and settlement makes one), and
-- this 2,600-character CASE cost ~7–10 % of bench:ledger's pairs/s on the development VM. Same values, same
-- guarantee: no lot row can be written whose rank does not match its kind.

ALTER TABLE ledger_lots ALTER COLUMN kind_rank DROP EXPRESSION;
ALTER TABLE ledger_lots ALTER COLUMN kind_rank SET NOT NULL;

-- Promotional → membership → purchased/bulk → the rest (refund, adjustment).
CREATE FUNCTION ledger_lot_kind_rank(p_kind text) RETURNS smallint LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  RETURN CASE p_kind WHEN 'promotional' THEN 0 WHEN 'membership' THEN 1 WHEN 'purchased' THEN 2 WHEN 'bulk' THEN 2
    ELSE 3 END;
END $$;

CREATE FUNCTION ledger_lots_rank_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.kind_rank := ledger_lot_kind_rank(NEW.kind);
  RETURN NEW;
END $$;
CREATE TRIGGER ledger_lots_rank BEFORE INSERT ON ledger_lots
  FOR EACH ROW EXECUTE FUNCTION ledger_lots_rank_on_insert();

-- The row rules of 0005, plus: the rank matches the kind.
ALTER TABLE ledger_lots DROP CONSTRAINT ledger_lots_valid;
DROP FUNCTION ledger_lot_row_valid(text, text, bigint, bigint, bigint, bigint, bigint, bigint, timestamptz, timestamptz);
CREATE FUNCTION ledger_lot_row_valid(p_kind text, p_kind_rank smallint, p_status text, p_granted bigint,
  p_available bigint, p_held bigint, p_consumed bigint, p_expired bigint, p_revoked bigint,
  p_granted_at timestamptz, p_expires_at timestamptz) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  RETURN p_kind IN ('promotional', 'membership', 'purchased', 'bulk', 'refund', 'adjustment')
    AND p_kind_rank = ledger_lot_kind_rank(p_kind)
    AND p_status IN ('active', 'expired', 'revoked')
    AND p_granted > 0 AND p_available >= 0 AND p_held >= 0 AND p_consumed >= 0 AND p_expired >= 0 AND p_revoked >= 0
    AND p_granted = p_available + p_held + p_consumed + p_expired + p_revoked  -- conservation
    AND p_expires_at > p_granted_at;
END $$;
ALTER TABLE ledger_lots ADD CONSTRAINT ledger_lots_valid CHECK (ledger_lot_row_valid(kind, kind_rank, status, granted,
  available, held, consumed, expired, revoked, granted_at, expires_at));


-- Down Migration

ALTER TABLE ledger_lots DROP CONSTRAINT ledger_lots_valid;
DROP FUNCTION ledger_lot_row_valid(text, smallint, text, bigint, bigint, bigint, bigint, bigint, bigint, timestamptz, timestamptz);
CREATE FUNCTION ledger_lot_row_valid(p_kind text, p_status text, p_granted bigint, p_available bigint,
  p_held bigint, p_consumed bigint, p_expired bigint, p_revoked bigint, p_granted_at timestamptz,
  p_expires_at timestamptz) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  RETURN p_kind IN ('promotional', 'membership', 'purchased', 'bulk', 'refund', 'adjustment')
    AND p_status IN ('active', 'expired', 'revoked')
    AND p_granted > 0 AND p_available >= 0 AND p_held >= 0 AND p_consumed >= 0 AND p_expired >= 0 AND p_revoked >= 0
    AND p_granted = p_available + p_held + p_consumed + p_expired + p_revoked
    AND p_expires_at > p_granted_at;
END $$;
ALTER TABLE ledger_lots ADD CONSTRAINT ledger_lots_valid CHECK (ledger_lot_row_valid(kind, status, granted, available,
  held, consumed, expired, revoked, granted_at, expires_at));
DROP TRIGGER ledger_lots_rank ON ledger_lots;
DROP FUNCTION ledger_lots_rank_on_insert();
DROP INDEX ledger_lots_consumption;
ALTER TABLE ledger_lots DROP COLUMN kind_rank;
ALTER TABLE ledger_lots ADD COLUMN kind_rank smallint GENERATED ALWAYS AS (CASE kind WHEN 'promotional' THEN 0
  WHEN 'membership' THEN 1 WHEN 'purchased' THEN 2 WHEN 'bulk' THEN 2 ELSE 3 END) STORED;
CREATE INDEX ledger_lots_consumption ON ledger_lots (wallet_id, expires_at, kind_rank, granted_at, id)
  WHERE status = 'active';
DROP FUNCTION ledger_lot_kind_rank(text);
