/** Conversions between milliseconds and the proto Timestamp/Duration shapes, and task tokens. */
import { randomUUID } from 'crypto';
import { errors } from '../grpc/errors';
import type { P } from './types';

export const uuid = (): string => randomUUID();

export function ts(ms: number): { seconds: string; nanos: number } {
  const s = Math.floor(ms / 1000);
  return { seconds: String(s), nanos: Math.round(ms - s * 1000) * 1_000_000 };
}

export function dur(ms: number): { seconds: string; nanos: number } {
  return ts(ms);
}

/** Duration/Timestamp → ms; `undefined`/absent → 0. */
export function toMs(d: P): number {
  if (!d) return 0;
  const s = Number(d.seconds ?? 0);
  const n = Number(d.nanos ?? 0);
  return s * 1000 + Math.floor(n / 1_000_000);
}

export function tsToMs(t: P): number | undefined {
  if (!t) return undefined;
  return toMs(t);
}

/** Task tokens are opaque to the worker; ours are JSON describing what they point at. */
export interface TaskTokenData {
  k: 'wft' | 'act' | 'query';
  ns: string;
  wid: string;
  rid: string;
  id: number; // scheduled event id / query nonce
  n: number; // nonce: changes each time the task is handed out
  a?: number; // attempt
  q?: string; // query id
}

export function encodeToken(t: TaskTokenData): Buffer {
  return Buffer.from(JSON.stringify(t), 'utf8');
}

export function decodeToken(buf: unknown): TaskTokenData {
  if (!buf || !(buf instanceof Uint8Array) || buf.length === 0) throw errors.invalidArgument('Task token not set on request.');
  try {
    const t = JSON.parse(Buffer.from(buf).toString('utf8')) as TaskTokenData;
    if (typeof t !== 'object' || !t || typeof t.k !== 'string' || typeof t.wid !== 'string') throw new Error('bad');
    return t;
  } catch {
    throw errors.invalidArgument('Error deserializing task token.');
  }
}

export function payloadsOf(p: P): P[] {
  return p?.payloads ?? [];
}

let nonceCounter = 1;
export const nextNonce = (): number => nonceCounter++;

/** The real server's blob size error limit (per request payload group): 2 MiB. */
export const BLOB_SIZE_LIMIT_ERROR = 2 * 1024 * 1024;

export function payloadsSize(p: P): number {
  let n = 0;
  for (const x of p?.payloads ?? []) {
    n += x?.data?.length ?? 0;
    for (const v of Object.values((x?.metadata ?? {}) as Record<string, Uint8Array>)) n += v?.length ?? 0;
  }
  return n;
}

/** INVALID_ARGUMENT for payloads over the limit, as the real frontend answers. */
export function checkBlobSize(...groups: P[]): void {
  for (const g of groups) if (payloadsSize(g) > BLOB_SIZE_LIMIT_ERROR) throw errors.invalidArgument('Blob data size exceeds limit.');
}
