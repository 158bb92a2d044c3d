import fc from 'fast-check';
import { compileVisibilityQuery, VisibilityQueryError } from '../../src/visibility';
import type { VisibilityRecord } from '../../src/visibility';
import { TYPES, withAttrs } from './fixtures';

const compile = (q: string) => compileVisibilityQuery(q, TYPES);
/** Quotes a string the way a client library would: single quotes, doubled inside, backslashes escaped. */
const quote = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;

const recordArb: fc.Arbitrary<VisibilityRecord> = fc
  .record({
    CustomInt: fc.option(fc.integer({ min: -5, max: 5 }), { nil: undefined }),
    CustomKeyword: fc.option(fc.constantFrom('a', 'b', 'ab'), { nil: undefined }),
    CustomList: fc.option(fc.subarray(['a', 'b', 'c']), { nil: undefined }),
    start: fc.integer({ min: 0, max: 10 }),
    runId: fc.constantFrom('r1', 'r2', 'r3'),
  })
  .map(({ start, runId, ...attrs }) => {
    const defined: VisibilityRecord['searchAttributes'] = {};
    for (const [k, v] of Object.entries(attrs)) if (v !== undefined) defined[k] = v;
    return withAttrs(defined, { runId, startTime: new Date(Date.UTC(2024, 0, 1, 0, 0, start)) });
  });

/** Small filters over the attributes above, as query text. */
const atomArb = fc.oneof(
  fc.tuple(fc.constantFrom('=', '!=', '<', '>', '<=', '>='), fc.integer({ min: -5, max: 5 })).map(([op, n]) => `CustomInt ${op} ${n}`),
  fc.constantFrom('a', 'b', 'ab').map((v) => `CustomKeyword = '${v}'`),
  fc.constantFrom('a', 'b').map((v) => `CustomKeyword STARTS_WITH '${v}'`),
  fc.constantFrom('a', 'b', 'c').map((v) => `CustomList = '${v}'`),
  fc.constantFrom('CustomInt IS NULL', 'CustomKeyword IS NOT NULL', "WorkflowType = 'chargeWorkflow'"),
);

describe('properties', () => {
  it('any string survives quoting: WorkflowId = <quoted s> matches exactly the id s', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.string(), (id, other) => {
        const q = compile(`WorkflowId = ${quote(id)}`);
        expect(q.matches(withAttrs({}, { workflowId: id }))).toBe(true);
        expect(q.matches(withAttrs({}, { workflowId: other }))).toBe(other === id);
      }),
    );
  });

  it('AND and OR agree with the truth of their parts (when the parts are known)', () => {
    fc.assert(
      fc.property(atomArb, atomArb, recordArb, (x, y, r) => {
        const a = compile(x).matches(r);
        const b = compile(y).matches(r);
        expect(compile(`(${x}) AND (${y})`).matches(r)).toBe(a && b);
        expect(compile(`(${x}) OR (${y})`).matches(r)).toBe(a || b);
      }),
    );
  });

  it('NOT x and x never both match, and IN is the OR of equalities', () => {
    fc.assert(
      fc.property(atomArb, recordArb, fc.array(fc.integer({ min: -5, max: 5 }), { minLength: 1, maxLength: 4 }), (x, r, ns) => {
        expect(compile(x).matches(r) && compile(`NOT (${x})`).matches(r)).toBe(false);
        const viaIn = compile(`CustomInt IN (${ns.join(', ')})`).matches(r);
        const viaOr = compile(ns.map((n) => `CustomInt = ${n}`).join(' OR ')).matches(r);
        expect(viaIn).toBe(viaOr);
      }),
    );
  });

  it('BETWEEN equals the pair of inclusive bounds', () => {
    fc.assert(
      fc.property(recordArb, fc.integer({ min: -6, max: 6 }), fc.integer({ min: -6, max: 6 }), (r, lo, hi) => {
        expect(compile(`CustomInt BETWEEN ${lo} AND ${hi}`).matches(r)).toBe(compile(`CustomInt >= ${lo} AND CustomInt <= ${hi}`).matches(r));
      }),
    );
  });

  it('compare is a consistent order (antisymmetric, transitive, reflexive)', () => {
    const orders = ['', 'ORDER BY CustomInt', 'ORDER BY CustomKeyword DESC, StartTime', 'ORDER BY StartTime ASC'];
    fc.assert(
      fc.property(fc.constantFrom(...orders), fc.array(recordArb, { minLength: 3, maxLength: 3 }), (order, [a, b, c]) => {
        const { compare } = compile(order);
        expect(Math.sign(compare(a, b))).toBe(-Math.sign(compare(b, a)) || 0);
        if (compare(a, b) <= 0 && compare(b, c) <= 0) expect(compare(a, c)).toBeLessThanOrEqual(0);
        expect(compare(a, a)).toBe(0);
      }),
    );
  });

  it('never throws anything but VisibilityQueryError, whatever the input', () => {
    const pieces = ['WorkflowId', 'CustomInt', 'CustomText', 'CustomList', '=', '!=', '<', '(', ')', "'a'", '"b', '1', '-', '1.5e', ',', '`', "'", 'AND', 'OR', 'NOT', 'IN', 'BETWEEN', 'IS', 'NULL', 'ORDER', 'BY', 'GROUP', 'DESC', 'STARTS_WITH', 'true', '\\'];
    const junkArb = fc.oneof(fc.string({ maxLength: 60 }), fc.array(fc.constantFrom(...pieces), { maxLength: 12 }).map((p) => p.join(' ')));
    fc.assert(
      fc.property(junkArb, (junk) => {
        try {
          compile(junk);
        } catch (e) {
          expect(e).toBeInstanceOf(VisibilityQueryError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
