import { Comparable, coerceLiteral, ResolvedAttribute, resolveAttribute } from './attributes';
import { errorAt } from './errors';
import type { Expr, Literal, NameRef, OrderItem } from './parser';
import type { SearchAttributeType, VisibilityRecord } from './types';

/**
 * SQL three-valued logic: a comparison against an absent attribute is unknown (null), and only rows whose
 * filter is `true` are listed, so `NOT (X = 'a')` does not list rows without X (as on the SQL visibility store).
 * Text and KeywordList are the exception: the server matches them through a full-text index
 * (`rowid [NOT] IN (...)`), which is never unknown, so `!=` / `NOT IN` do list rows without the attribute.
 */
type Tri = boolean | null;
type Predicate = (r: VisibilityRecord) => Tri;
type Types = ReadonlyMap<string, SearchAttributeType>;

export function compileExpr(e: Expr, types: Types): Predicate {
  switch (e.t) {
    case 'and': return and(compileExpr(e.left, types), compileExpr(e.right, types));
    case 'or': return or(compileExpr(e.left, types), compileExpr(e.right, types));
    case 'not': {
      const inner = compileExpr(e.expr, types);
      return (r) => { const v = inner(r); return v === null ? null : !v; };
    }
    case 'isNull': {
      const attr = resolveAttribute(e.attr, types);
      return (r) => (attr.get(r) === null) !== e.negated;
    }
    default: return compilePredicate(e, resolveAttribute(e.attr, types));
  }
}

function and(left: Predicate, right: Predicate): Predicate {
  return (r) => {
    const a = left(r);
    if (a === false) return false;
    const b = right(r);
    if (b === false) return false;
    return a === null || b === null ? null : true;
  };
}

function or(left: Predicate, right: Predicate): Predicate {
  return (r) => {
    const a = left(r);
    if (a === true) return true;
    const b = right(r);
    if (b === true) return true;
    return a === null || b === null ? null : false;
  };
}

type Leaf = Exclude<Expr, { t: 'and' | 'or' | 'not' | 'isNull' }>;

function operatorName(e: Leaf): string {
  const not = 'negated' in e && e.negated ? 'NOT ' : '';
  if (e.t === 'cmp') return e.op;
  return not + { in: 'IN', between: 'BETWEEN', startsWith: 'STARTS_WITH' }[e.t];
}

function compilePredicate(e: Leaf, attr: ResolvedAttribute): Predicate {
  const unsupported = (): Error =>
    errorAt(e.attr.pos, `operator '${operatorName(e)}' is not supported for ${attr.kind} search attribute '${attr.name}'`);
  if (attr.kind === 'Text') {
    if (e.t !== 'cmp' || (e.op !== '=' && e.op !== '!=')) throw unsupported();
    return textMatch(attr, e.value, e.op === '!=');
  }
  if (attr.kind === 'KeywordList') {
    if (e.t === 'cmp' && (e.op === '=' || e.op === '!=')) return listContainsAny(attr, [e.value], e.op === '!=');
    if (e.t === 'in') return listContainsAny(attr, e.values, e.negated);
    throw unsupported();
  }
  const ordered = attr.kind !== 'Bool';
  switch (e.t) {
    case 'cmp': {
      if (!ordered && e.op !== '=' && e.op !== '!=') throw unsupported();
      return scalarCompare(attr, e.op, coerceLiteral(attr, e.value));
    }
    case 'in': {
      const wanted = e.values.map((v) => coerceLiteral(attr, v));
      return scalar(attr, (v) => wanted.includes(v) !== e.negated);
    }
    case 'between': {
      if (!ordered) throw unsupported();
      const from = coerceLiteral(attr, e.from);
      const to = coerceLiteral(attr, e.to);
      return scalar(attr, (v) => (compareScalars(v, from) >= 0 && compareScalars(v, to) <= 0) !== e.negated);
    }
    case 'startsWith': {
      if (attr.kind !== 'Keyword') throw unsupported();
      const prefix = coerceLiteral(attr, e.value) as string;
      return scalar(attr, (v) => (v as string).startsWith(prefix) !== e.negated);
    }
  }
}

/** Applies `test` to the attribute's value, or yields unknown when the attribute is absent. */
function scalar(attr: ResolvedAttribute, test: (v: string | number | boolean) => boolean): Predicate {
  return (r) => {
    const v = attr.get(r);
    return v === null ? null : test(v as string | number | boolean);
  };
}

function scalarCompare(attr: ResolvedAttribute, op: string, literal: string | number | boolean): Predicate {
  const accept: Record<string, (c: number) => boolean> = {
    '=': (c) => c === 0, '!=': (c) => c !== 0, '<': (c) => c < 0, '>': (c) => c > 0, '<=': (c) => c <= 0, '>=': (c) => c >= 0,
  };
  const ok = accept[op];
  return scalar(attr, (v) => ok(compareScalars(v, literal)));
}

function compareScalars(a: string | number | boolean, b: string | number | boolean): number {
  if (a === b) return 0;
  return a < b ? -1 : 1;
}

function listContainsAny(attr: ResolvedAttribute, values: Literal[], negated: boolean): Predicate {
  const wanted = values.map((v) => coerceLiteral(attr, v) as string);
  return (r) => {
    const list = attr.get(r) as string[] | null;
    return (list !== null && list.some((item) => wanted.includes(item))) !== negated;
  };
}

/** Lower-cased runs of letters and digits, like the SQLite FTS5 unicode61 tokenizer the dev server uses. */
function textTokens(text: string): string[] {
  return text.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter((t) => t.length > 0);
}

function textMatch(attr: ResolvedAttribute, value: Literal, negated: boolean): Predicate {
  const wanted = textTokens(coerceLiteral(attr, value) as string);
  if (wanted.length === 0) throw errorAt(value.pos, `no words to match in the value for Text search attribute '${attr.name}'`);
  // Any query word found in the text matches (the full-text query is `"w1" OR "w2" ...`).
  return (r) => {
    const text = attr.get(r);
    const found = text !== null && textTokens(String(text)).some((t) => wanted.includes(t));
    return found !== negated;
  };
}

type Comparator = (a: VisibilityRecord, b: VisibilityRecord) => number;

/**
 * Without ORDER BY the real server lists open runs first (no CloseTime), then closed ones by CloseTime
 * DESC, each by StartTime DESC, then RunId: SQL visibility orders by
 * `coalesce(close_time, '9999-12-31') DESC, start_time DESC, run_id`, Elasticsearch by CloseTime and
 * StartTime DESC with missing values first.
 */
function defaultOrder(a: VisibilityRecord, b: VisibilityRecord): number {
  const closeA = a.closeTime?.getTime() ?? Infinity;
  const closeB = b.closeTime?.getTime() ?? Infinity;
  if (closeA !== closeB) return closeA > closeB ? -1 : 1;
  const startA = a.startTime.getTime();
  const startB = b.startTime.getTime();
  if (startA !== startB) return startA > startB ? -1 : 1;
  return compareScalars(a.runId, b.runId);
}

/** ORDER BY items, then RunId so that the order is total; without ORDER BY: the server's default order. */
export function compileOrder(items: OrderItem[], types: Types): Comparator {
  if (items.length === 0) return defaultOrder;
  const at = (name: string): NameRef => ({ name, pos: 0 });
  const keys = [...items, { attr: at('RunId'), desc: false }].map((item) => {
    const attr = resolveAttribute(item.attr, types);
    if (attr.kind === 'Text' || attr.kind === 'KeywordList') {
      throw errorAt(item.attr.pos, `cannot ORDER BY ${attr.kind} search attribute '${attr.name}'`);
    }
    return { get: attr.get, sign: item.desc ? -1 : 1 };
  });
  return (a, b) => {
    for (const key of keys) {
      const c = compareNullsLast(key.get(a), key.get(b), key.sign);
      if (c !== 0) return c;
    }
    return 0;
  };
}

/** Absent values sort after present ones in both directions, as Elasticsearch does by default. */
function compareNullsLast(a: Comparable, b: Comparable, sign: number): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? 1 : -1;
  return sign * compareScalars(a as string | number | boolean, b as string | number | boolean);
}
