import { decodeSearchAttributePayload, VisibilityQueryError } from '../../src/visibility';
import type { SearchAttributeType } from '../../src/visibility';

const bytes = (s: string) => new TextEncoder().encode(s);
/** A payload as the SDK's search attribute converter builds it. */
const json = (value: unknown, type?: string) => ({
  metadata: { encoding: bytes('json/plain'), ...(type ? { type: bytes(type) } : {}) },
  data: bytes(JSON.stringify(value)),
});

describe('decodeSearchAttributePayload', () => {
  it.each<[unknown, SearchAttributeType, unknown]>([
    ['gold', 'Keyword', 'gold'],
    ['some words', 'Text', 'some words'],
    [42, 'Int', 42],
    ['42', 'Int', 42], // int64 as a JSON string
    [-7, 'Int', -7],
    [2.5, 'Double', 2.5],
    [3, 'Double', 3],
    [true, 'Bool', true],
    [['a', 'b'], 'KeywordList', ['a', 'b']],
    ['solo', 'KeywordList', ['solo']],
    [[], 'KeywordList', []],
    [['legacy'], 'Keyword', 'legacy'], // untyped SDK attributes are one-element lists
    [[5], 'Int', 5],
    [[], 'Keyword', null],
    [null, 'Int', null],
  ])('%j as %s → %j', (value, type, expected) => {
    expect(decodeSearchAttributePayload(json(value, type), type)).toEqual(expected);
  });

  it('turns a Datetime into a Date', () => {
    const d = decodeSearchAttributePayload(json('2024-06-01T12:34:56.789Z', 'Datetime'), 'Datetime');
    expect(d).toBeInstanceOf(Date);
    expect((d as Date).toISOString()).toBe('2024-06-01T12:34:56.789Z');
    expect(decodeSearchAttributePayload(json(['2024-06-01T00:00:00+02:00']), 'Datetime')).toEqual(new Date('2024-05-31T22:00:00Z'));
  });

  it('reads the payload without metadata.type, and a legacy type name', () => {
    expect(decodeSearchAttributePayload(json('x'), 'Keyword')).toBe('x');
    expect(decodeSearchAttributePayload(json(['x'], 'INDEXED_VALUE_TYPE_KEYWORD_LIST'), 'KeywordList')).toEqual(['x']);
  });

  it('reads absent data and binary/null as null', () => {
    expect(decodeSearchAttributePayload({}, 'Keyword')).toBeNull();
    expect(decodeSearchAttributePayload({ metadata: { encoding: bytes('binary/null') } }, 'Int')).toBeNull();
  });

  it.each<[ReturnType<typeof json> | { metadata?: Record<string, Uint8Array>; data?: Uint8Array }, SearchAttributeType, RegExp]>([
    [json('abc'), 'Int', /of type Int: expected an integer/],
    [json(1.5), 'Int', /expected an integer/],
    [json('1.5'), 'Double', /expected a number/],
    [json('yes'), 'Bool', /expected true or false/],
    [json(5), 'Keyword', /expected a string/],
    [json([1, 2]), 'KeywordList', /expected a list of strings/],
    [json(['a', 'b']), 'Keyword', /expected a single value, got a list of 2/],
    [json('not a date'), 'Datetime', /expected an ISO 8601 datetime/],
    [json(12, 'Int'), 'Keyword', /the payload says its type is 'Int'/],
    [{ metadata: { encoding: bytes('binary/protobuf') }, data: bytes('x') }, 'Keyword', /unsupported payload encoding 'binary\/protobuf'/],
    [{ metadata: { encoding: bytes('json/plain') }, data: bytes('{oops') }, 'Keyword', /not valid UTF-8 JSON/],
    [{ metadata: { encoding: bytes('json/plain') }, data: new Uint8Array([0x22, 0xff, 0x22]) }, 'Keyword', /not valid UTF-8 JSON/],
  ])('rejects %# (%s)', (payload, type, message) => {
    expect(() => decodeSearchAttributePayload(payload, type)).toThrow(VisibilityQueryError);
    expect(() => decodeSearchAttributePayload(payload, type)).toThrow(message);
  });

  it('names the attribute when given', () => {
    expect(() => decodeSearchAttributePayload(json('abc'), 'Int', 'CustomInt')).toThrow(/invalid value for CustomInt of type Int/);
  });
});
