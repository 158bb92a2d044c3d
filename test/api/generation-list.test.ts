/**
 * GET /v1/wallets/:id/generations without a Temporal worker: the listing reads the generations table only, so
 * rows are written here as the workflow's activities would (rejected generations need no hold).
 */
import { randomUUID } from 'node:crypto';
import { recordRejection } from '../../src/generations/store';
import { auditClean, createWallet, expectError, get, setupApiTest, type ApiTest } from './helpers';

let t: ApiTest;
beforeAll(async () => {
  t = await setupApiTest();
});
afterEach(async () => auditClean(t));
afterAll(async () => t.close());

const cursorOf = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

async function rejectedGeneration(walletId: string, createdAt?: string): Promise<string> {
  const generationId = `gen-${randomUUID()}`;
  await recordRejection(t.pool, {
    generation: { generationId, walletId, userId: 'u', feature: 'image', params: {}, platform: 'web' },
    quote: { priceBookVersion: 'v1', costCredits: 10, breakdown: [], deadlineMs: 1000, maxDeadlineMs: 3000, acceptedContentTypes: [] },
    rejection: { code: 'InsufficientCredits', message: 'not enough credits', shortfallCredits: 10 },
  });
  if (createdAt) await t.pool.query('UPDATE generations SET created_at = $2 WHERE generation_id = $1', [generationId, createdAt]);
  return generationId;
}

/** Walks the wallet's generations one per page, following nextCursor; returns the ids in page order. */
async function listOnePerPage(walletId: string): Promise<string[]> {
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const res = await get(t, `/v1/wallets/${walletId}/generations?limit=1${cursor ? `&cursor=${cursor}` : ''}`);
    expect(res.status).toBe(200);
    seen.push(...res.body.generations.map((g: { generationId: string }) => g.generationId));
    cursor = res.body.nextCursor;
  } while (cursor);
  return seen;
}

describe('GET /v1/wallets/:id/generations cursor', () => {
  it.each([
    ['not base64url at all', 'zzz'],
    ['base64url of text', Buffer.from('hello').toString('base64url')],
    ['a position whose time is not a date', cursorOf(['not-a-date', 'x'])],
    ['a position whose time is not in the form a cursor has', cursorOf(['2026-01-01', 'x'])],
    ['a position without a generation id', cursorOf(['2026-01-01T00:00:00.000Z'])],
    ['a position with extra parts', cursorOf(['2026-01-01T00:00:00.000Z', 'x', 'y'])],
    ['a position whose id is not text', cursorOf(['2026-01-01T00:00:00.000Z', 7])],
    ['a position whose id Postgres cannot read', cursorOf(['2026-01-01T00:00:00.000Z', 'a\u0000b'])],
    ['a position whose id is too long', cursorOf(['2026-01-01T00:00:00.000Z', 'x'.repeat(201)])],
    ['characters outside base64url', `${cursorOf(['2026-01-01T00:00:00.000Z', 'x'])}!`],
  ])('%s → 400 naming query.cursor', async (_label, cursor) => {
    const walletId = await createWallet(t);
    await rejectedGeneration(walletId);
    const res = await get(t, `/v1/wallets/${walletId}/generations?cursor=${encodeURIComponent(cursor)}`);
    expectError(res, 400, 'ValidationError');
    expect(res.body.error.details.fields).toEqual([{ path: 'query.cursor', reason: expect.any(String) }]);
  });

  it('pages through every generation, newest first, with the nextCursor it is given', async () => {
    const walletId = await createWallet(t);
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push(await rejectedGeneration(walletId, `2026-01-0${i + 1}T00:00:00.000Z`));
    expect(await listOnePerPage(walletId)).toEqual([...ids].reverse());
  });

  it('generations created within one millisecond are all listed (the cursor keeps microseconds)', async () => {
    const walletId = await createWallet(t);
    const ids = [];
    for (const us of ['400', '500', '600']) ids.push(await rejectedGeneration(walletId, `2026-02-01T00:00:00.123${us}Z`));
    expect(await listOnePerPage(walletId)).toEqual([...ids].reverse());
  });

  it('a cursor made before cursors kept microseconds still reads', async () => {
    const walletId = await createWallet(t);
    const older = await rejectedGeneration(walletId, '2026-03-01T00:00:00.000Z');
    await rejectedGeneration(walletId, '2026-03-02T00:00:00.000Z');
    const res = await get(t, `/v1/wallets/${walletId}/generations?cursor=${cursorOf(['2026-03-02T00:00:00.000Z', 'gen-'])}`);
    expect(res.status).toBe(200);
    expect(res.body.generations.map((g: { generationId: string }) => g.generationId)).toEqual([older]);
  });
});

test.each(['0x10', '1e1', '%205', '5.0', '%2B5', '05', '0', '201'])('limit=%s → 400 naming query.limit; a plain one is taken', async (limit) => {
  const walletId = await createWallet(t);
  const res = await get(t, `/v1/wallets/${walletId}/generations?limit=${limit}`);
  expectError(res, 400, 'ValidationError');
  expect(res.body.error.details.fields).toEqual([{ path: 'query.limit', reason: expect.any(String) }]);
  expect((await get(t, `/v1/wallets/${walletId}/generations?limit=200`)).status).toBe(200);
});
