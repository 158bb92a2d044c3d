/**
 * The life of an idempotency claim around slow requests and failed record writes, with short timeouts
 * injected through AppDeps.idempotency. Slowness and write failures are made by test-only triggers in this
 * file's own database (real Postgres, no mocks).
 */
import { randomUUID } from 'node:crypto';
import { auditClean, expectError, idem, post, setupApiTest, type ApiTest } from './helpers';
import { someoneWaitsOnALock } from '../support/locks';

const STALE_MS = 300;
const SLOW_LOCK = 4_242_001;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

let t: ApiTest;
beforeAll(async () => {
  t = await setupApiTest({
    idempotency: { staleLockAfterMs: STALE_MS, waitForInProgressMs: 200, recordRetryDelaysMs: [10, 10] },
  });
  // Inserting a key labelled `slow-…` waits for an advisory lock the test holds: a request that runs as long
  // as the test says, well past the stale-lock timeout.
  await t.pool.query(`
    CREATE FUNCTION test_slow_api_key() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN PERFORM pg_advisory_xact_lock(${SLOW_LOCK}); RETURN NEW; END $$`);
  await t.pool.query(`
    CREATE TRIGGER test_slow_api_key BEFORE INSERT ON api_keys FOR EACH ROW
      WHEN (NEW.label LIKE 'slow-%') EXECUTE FUNCTION test_slow_api_key()`);
  // Completing the record of a key listed in test_fail_complete fails: always (failures NULL) or for the
  // first `failures` attempts (counted by a sequence, which a failed statement does not roll back).
  await t.pool.query(`CREATE TABLE test_fail_complete (idempotency_key text PRIMARY KEY, failures int)`);
  await t.pool.query(`CREATE SEQUENCE test_complete_attempts`);
  await t.pool.query(`
    CREATE FUNCTION test_fail_complete() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE f test_fail_complete;
    BEGIN
      SELECT * INTO f FROM test_fail_complete WHERE idempotency_key = NEW.idempotency_key;
      IF FOUND AND (f.failures IS NULL OR nextval('test_complete_attempts') <= f.failures) THEN
        RAISE EXCEPTION 'test: writing the idempotency record fails';
      END IF;
      RETURN NEW;
    END $$`);
  await t.pool.query(`
    CREATE TRIGGER test_fail_complete BEFORE UPDATE ON http_idempotency FOR EACH ROW
      WHEN (NEW.state = 'completed') EXECUTE FUNCTION test_fail_complete()`);
});
afterEach(async () => auditClean(t));
afterAll(async () => t.close());

const keysLabelled = async (label: string) =>
  Number((await t.pool.query(`SELECT count(*) AS n FROM api_keys WHERE label = $1`, [label])).rows[0].n);

const recordState = async (idempotencyKey: string) =>
  (await t.pool.query<{ state: string }>(`SELECT state FROM http_idempotency WHERE idempotency_key = $1`, [idempotencyKey]))
    .rows[0]?.state ?? null;

describe('a request running longer than the stale-lock timeout', () => {
  it('keeps its claim fresh: a duplicate is not a takeover, it replays; the key is created once', async () => {
    const key = idem();
    const body = { role: 'support', label: `slow-${randomUUID()}` };
    const locker = await t.pool.connect();
    let firstPromise: Promise<Awaited<ReturnType<typeof post>>> | undefined;
    try {
      await locker.query('SELECT pg_advisory_lock($1)', [SLOW_LOCK]);
      firstPromise = post(t, '/v1/api-keys', body, t.adminKey, key).then((res) => res);
      await someoneWaitsOnALock(t.pool); // the first request is inside its operation, held there by the test
      await sleep(STALE_MS * 3);
      const lockAge = await t.pool.query<{ ms: number }>(
        `SELECT (extract(epoch FROM clock_timestamp() - locked_at) * 1000)::float8 AS ms FROM http_idempotency WHERE idempotency_key = $1`,
        [key],
      );
      expect(lockAge.rows[0]!.ms).toBeLessThan(STALE_MS);
      // While the first still runs, a duplicate waits for it (200 ms here) instead of taking its claim over.
      expectError(await post(t, '/v1/api-keys', body, t.adminKey, key), 409, 'IdempotencyInProgress');
      expect(await keysLabelled(body.label)).toBe(0);
      expect(await recordState(key)).toBe('in_progress');
    } finally {
      await locker.query('SELECT pg_advisory_unlock($1)', [SLOW_LOCK]);
      locker.release();
    }
    const first = await firstPromise!;
    expect(first.status).toBe(201);
    expect(first.body.key).toMatch(/^ck_/);
    expect(await recordState(key)).toBe('completed');
    // Once the first has answered, a duplicate replays its response (without the key, shown only once).
    const again = await post(t, '/v1/api-keys', body, t.adminKey, key);
    expect(again.status).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toEqual({ ...first.body, key: null });
    expect(await keysLabelled(body.label)).toBe(1);
  });
});

describe('writing the completed record fails', () => {
  it('a transient failure is retried before answering: the response is recorded and replayed', async () => {
    const key = idem();
    const body = { role: 'support', label: `blip-${randomUUID()}` };
    await t.pool.query(`ALTER SEQUENCE test_complete_attempts RESTART`);
    await t.pool.query(`INSERT INTO test_fail_complete VALUES ($1, 2)`, [key]);
    const first = await post(t, '/v1/api-keys', body, t.adminKey, key);
    expect(first.status).toBe(201);
    expect(first.body.key).toMatch(/^ck_/);
    expect(await recordState(key)).toBe('completed');
    const again = await post(t, '/v1/api-keys', body, t.adminKey, key);
    expect(again.status).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toEqual({ ...first.body, key: null });
    expect(await keysLabelled(body.label)).toBe(1);
  });

  it('while it keeps failing, the operation is never run again; the record is written once the write succeeds', async () => {
    const key = idem();
    const body = { role: 'support', label: `lost-${randomUUID()}` };
    await t.pool.query(`INSERT INTO test_fail_complete VALUES ($1, NULL)`, [key]);
    const first = await post(t, '/v1/api-keys', body, t.adminKey, key);
    // Well past the stale-lock timeout, a duplicate is still not a takeover.
    await sleep(STALE_MS * 3);
    const duplicate = await post(t, '/v1/api-keys', body, t.adminKey, key);
    expect(await keysLabelled(body.label)).toBe(1);
    expectError(duplicate, 409, 'IdempotencyInProgress');
    // The key was created: the client gets it (it is shown only once), not a 500 that invites a re-run.
    expect(first.status).toBe(201);
    expect(first.body.key).toMatch(/^ck_/);
    expect(t.logLines.some((line) => line['msg'] === 'recording the idempotent response failed; retrying in the background')).toBe(true);
    expect(await recordState(key)).toBe('in_progress');
    // The database accepts the write again: the response is recorded and replayed, still one key.
    await t.pool.query(`DELETE FROM test_fail_complete WHERE idempotency_key = $1`, [key]);
    for (let i = 0; i < 100 && (await recordState(key)) !== 'completed'; i += 1) await sleep(50);
    expect(await recordState(key)).toBe('completed');
    const again = await post(t, '/v1/api-keys', body, t.adminKey, key);
    expect(again.status).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toEqual({ ...first.body, key: null });
    expect(await keysLabelled(body.label)).toBe(1);
  });
});
