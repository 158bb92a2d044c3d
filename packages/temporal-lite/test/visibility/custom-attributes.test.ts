import { compileVisibilityQuery } from '../../src/visibility';
import { TYPES, withAttrs } from './fixtures';
import type { VisibilityRecord } from '../../src/visibility';

const matches = (query: string, r: VisibilityRecord) => compileVisibilityQuery(query, TYPES).matches(r);

describe('custom search attributes', () => {
  const full = withAttrs({
    CustomKeyword: 'gold-tier',
    CustomText: 'Refund requested: video render FAILED twice',
    CustomInt: 42,
    CustomDouble: 2.5,
    CustomBool: true,
    CustomDatetime: new Date('2024-06-01T00:00:00Z'),
    CustomList: ['alpha', 'beta'],
    'Weird-Name': 'x',
  });
  const empty = withAttrs({});

  it.each([
    // Keyword: exact, case-sensitive.
    ["CustomKeyword = 'gold-tier'", true],
    ["CustomKeyword = 'gold'", false],
    ["CustomKeyword = 'GOLD-TIER'", false],
    ["CustomKeyword STARTS_WITH 'gold'", true],
    ["CustomKeyword IN ('silver', 'gold-tier')", true],
    ["CustomKeyword < 'h'", true],
    // Text: any word of the value, case-insensitively.
    ["CustomText = 'failed'", true],
    ["CustomText = 'render'", true],
    ["CustomText = 'refund approved'", true], // words are OR-ed, as in the server's full-text query
    ["CustomText = 'rend'", false], // whole words only
    ["CustomText != 'failed'", false],
    ["CustomText != 'approved'", true],
    // Int and Double.
    ['CustomInt = 42', true],
    ['CustomInt > 41 AND CustomInt < 43', true],
    ['CustomInt BETWEEN 42 AND 42', true],
    ['CustomInt IN (1, 2, 42)', true],
    ['CustomInt = -42', false],
    ['CustomInt >= +42', true],
    ['CustomDouble = 2.5', true],
    ['CustomDouble > 2', true],
    ['CustomDouble < .5e1', true],
    ['CustomDouble BETWEEN 2.4 AND 2.6', true],
    // Bool.
    ['CustomBool = true', true],
    ['CustomBool = FALSE', false],
    ['CustomBool != false', true],
    ["CustomBool = 'true'", true],
    // Datetime.
    ["CustomDatetime > '2024-05-31T23:59:59Z'", true],
    ["CustomDatetime = '2024-06-01T02:00:00+02:00'", true],
    // KeywordList: = means contains, IN means contains any, NOT IN means contains none.
    ["CustomList = 'alpha'", true],
    ["CustomList = 'gamma'", false],
    ["CustomList != 'alpha'", false],
    ["CustomList != 'gamma'", true],
    ["CustomList IN ('gamma', 'beta')", true],
    ["CustomList NOT IN ('gamma', 'beta')", false],
    ["CustomList NOT IN ('gamma', 'delta')", true],
    // Backticks quote names that are not identifiers.
    ["`Weird-Name` = 'x'", true],
  ])('%s → %s', (query, expected) => {
    expect(matches(query, full)).toBe(expected);
  });

  describe('when the attribute is absent', () => {
    it.each([
      ["CustomKeyword = 'a'", false],
      ["CustomKeyword != 'a'", false], // SQL: NULL != 'a' is unknown
      ["NOT CustomKeyword = 'a'", false],
      ['CustomInt < 0 OR CustomInt >= 0', false],
      ['CustomKeyword IS NULL', true],
      ['CustomKeyword IS NOT NULL', false],
      ['CustomList IS NULL', true],
      // Full-text matches are never unknown: the negations list rows without the attribute.
      ["CustomText = 'a'", false],
      ["CustomText != 'a'", true],
      ["CustomList = 'a'", false],
      ["CustomList != 'a'", true],
      ["CustomList NOT IN ('a')", true],
    ])('%s → %s', (query, expected) => {
      expect(matches(query, empty)).toBe(expected);
    });

    it('treats an explicit null and an empty list as absent', () => {
      const nulls = withAttrs({ CustomKeyword: null, CustomList: [] });
      expect(matches('CustomKeyword IS NULL AND CustomList IS NULL', nulls)).toBe(true);
    });
  });

  it('accepts stored values in the shapes a server may keep (ISO strings, one-element lists)', () => {
    const legacy = withAttrs({ CustomDatetime: '2024-06-01T00:00:00Z', CustomKeyword: ['solo'], CustomList: 'only' });
    expect(matches("CustomDatetime = '2024-06-01T00:00:00Z'", legacy)).toBe(true);
    expect(matches("CustomKeyword = 'solo'", legacy)).toBe(true);
    expect(matches("CustomList = 'only'", legacy)).toBe(true);
  });

  it('treats a stored number that is not a number as absent rather than comparing NaN', () => {
    const garbled = withAttrs({ CustomInt: 'abc', CustomDouble: '2.5' });
    expect(matches('CustomInt IS NULL', garbled)).toBe(true);
    expect(matches('CustomInt > 0 OR CustomInt <= 0', garbled)).toBe(false);
    expect(matches('CustomDouble = 2.5', garbled)).toBe(true);
  });

  it('knows the predefined attributes the server and SDK set without registration', () => {
    const patched = withAttrs({ TemporalChangeVersion: ['my-patch-1'] });
    expect(matches("TemporalChangeVersion = 'my-patch-1'", patched)).toBe(true);
  });
});

describe('boolean logic and precedence', () => {
  const r = withAttrs({ CustomInt: 1, CustomKeyword: 'a' });
  it.each([
    ["CustomInt = 1 OR CustomInt = 2 AND CustomKeyword = 'b'", true], // AND binds tighter
    ["(CustomInt = 1 OR CustomInt = 2) AND CustomKeyword = 'b'", false],
    ['NOT CustomInt = 2', true],
    ['NOT NOT CustomInt = 1', true],
    ['NOT (CustomInt = 1 OR CustomInt = 2)', false],
    ["((((CustomKeyword = 'a'))))", true],
    ["CustomInt = 1 AND (CustomKeyword = 'b' OR NOT CustomKeyword = 'c')", true],
  ])('%s → %s', (query, expected) => {
    expect(matches(query, r)).toBe(expected);
  });
});

describe('string literals', () => {
  it.each([
    ["CustomKeyword = 'it''s'", "it's"],
    ["CustomKeyword = 'it\\'s'", "it's"],
    ['CustomKeyword = "say ""hi"""', 'say "hi"'],
    ['CustomKeyword = "a\\\\b"', 'a\\b'],
    ["CustomKeyword = 'tab\\there'", 'tab\there'],
    ["CustomKeyword = 'ünïcödé ✓'", 'ünïcödé ✓'],
    ["CustomKeyword = ''", ''],
  ])('%s matches %j', (query, value) => {
    expect(matches(query, withAttrs({ CustomKeyword: value }))).toBe(true);
    expect(matches(query, withAttrs({ CustomKeyword: `${value}x` }))).toBe(false);
  });
});
