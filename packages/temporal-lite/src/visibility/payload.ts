import { VisibilityQueryError } from './errors';
import type { SearchAttributeType, VisibilityRecord } from './types';

type Value = VisibilityRecord['searchAttributes'][string];
interface Payload { metadata?: Record<string, Uint8Array>; data?: Uint8Array }

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Decodes one search attribute payload as the SDK sends it: encoding `json/plain` with JSON data, the type
 * optionally repeated in `metadata.type`. Legacy (untyped) SDK attributes come as a JSON list even for
 * single-valued types; a one-element list is unwrapped as the real server does.
 * Throws VisibilityQueryError (→ INVALID_ARGUMENT) when the payload does not hold a value of `type`.
 */
export function decodeSearchAttributePayload(payload: Payload, type: SearchAttributeType, name = 'search attribute'): Value {
  const fail = (why: string): VisibilityQueryError => new VisibilityQueryError(`invalid value for ${name} of type ${type}: ${why}`);
  const encoding = metadataText(payload.metadata, 'encoding', fail);
  if (encoding === 'binary/null') return null;
  if (encoding !== undefined && encoding !== 'json/plain') throw fail(`unsupported payload encoding '${encoding}'`);
  const declared = metadataText(payload.metadata, 'type', fail);
  if (declared !== undefined && normalizeTypeName(declared) !== normalizeTypeName(type)) {
    throw fail(`the payload says its type is '${declared}'`);
  }
  if (!payload.data || payload.data.length === 0) return null;
  let json: unknown;
  try {
    json = JSON.parse(utf8.decode(payload.data));
  } catch {
    throw fail('data is not valid UTF-8 JSON');
  }
  return convert(json, type, fail);
}

function metadataText(metadata: Payload['metadata'], key: string, fail: (why: string) => Error): string | undefined {
  const bytes = metadata?.[key];
  if (bytes === undefined) return undefined;
  try {
    return utf8.decode(bytes);
  } catch {
    throw fail(`metadata '${key}' is not UTF-8`);
  }
}

/** 'KeywordList', 'keyword_list' and 'INDEXED_VALUE_TYPE_KEYWORD_LIST' name the same type. */
function normalizeTypeName(name: string): string {
  return name.toLowerCase().replace(/^indexed_value_type_/, '').replace(/_/g, '');
}

function convert(json: unknown, type: SearchAttributeType, fail: (why: string) => Error): Value {
  if (json === null) return null;
  if (type === 'KeywordList') {
    const list = Array.isArray(json) ? json : [json];
    if (!list.every((item): item is string => typeof item === 'string')) throw fail('expected a list of strings');
    return [...list];
  }
  if (Array.isArray(json)) {
    if (json.length === 0) return null;
    if (json.length > 1) throw fail(`expected a single value, got a list of ${json.length}`);
    return convert(json[0], type, fail);
  }
  switch (type) {
    case 'Keyword': case 'Text':
      if (typeof json !== 'string') throw fail('expected a string');
      return json;
    case 'Int': {
      const n = typeof json === 'string' && /^-?[0-9]+$/.test(json) ? Number(json) : json;
      if (typeof n !== 'number' || !Number.isSafeInteger(n)) throw fail('expected an integer');
      return n;
    }
    case 'Double':
      if (typeof json !== 'number' || !Number.isFinite(json)) throw fail('expected a number');
      return json;
    case 'Bool':
      if (typeof json !== 'boolean') throw fail('expected true or false');
      return json;
    case 'Datetime': {
      const date = typeof json === 'string' ? new Date(json) : null;
      if (!date || Number.isNaN(date.getTime())) throw fail('expected an ISO 8601 datetime string');
      return date;
    }
  }
}
