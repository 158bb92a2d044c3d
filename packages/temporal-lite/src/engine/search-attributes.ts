/** Search attribute validation and decoding against a namespace's registered attributes. */
import { errors } from '../grpc/errors';
import { decodeSearchAttributePayload } from '../visibility';
import type { Namespace, P } from './types';

/** Real server: an attribute not registered in the namespace is INVALID_ARGUMENT; so is a value of the wrong type. */
export function validateSearchAttributes(ns: Namespace, fields: Record<string, P>): void {
  for (const [name, payload] of Object.entries(fields ?? {})) {
    const type = ns.searchAttributes.get(name);
    if (!type) throw errors.invalidArgument(`search attribute ${name} is not defined`);
    if (isRemoval(payload)) continue;
    try {
      decodeSearchAttributePayload(payload, type, name);
    } catch (e) {
      throw errors.invalidArgument((e as Error).message);
    }
  }
}

/** An upsert with a null/empty value removes the attribute. */
export function isRemoval(payload: P): boolean {
  const enc = payload?.metadata?.encoding;
  if (enc && Buffer.from(enc).toString('utf8') === 'binary/null') return true;
  const data: Buffer | undefined = payload?.data;
  if (!data || data.length === 0) return true;
  const s = Buffer.from(data).toString('utf8').trim();
  return s === 'null' || s === '[]';
}

export function mergeSearchAttributes(target: Record<string, P>, upsert: Record<string, P>): void {
  for (const [k, v] of Object.entries(upsert ?? {})) {
    if (isRemoval(v)) delete target[k];
    else target[k] = v;
  }
}
