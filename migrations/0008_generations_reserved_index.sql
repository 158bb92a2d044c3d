-- Up Migration

-- The hold sweeper looks, each sweep, for generations still `reserved` whose hold it has expired (their
-- workflow never settled them), to record the release on their row. Only the generations in flight are
-- reserved: a partial index keeps that lookup to them however many generations the table holds.
CREATE INDEX generations_reserved ON generations (reserved_at) WHERE status = 'reserved';

-- Down Migration

DROP INDEX IF EXISTS generations_reserved;
