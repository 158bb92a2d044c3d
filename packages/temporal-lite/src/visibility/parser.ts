import { errorAt } from './errors';
import { Token, tokenize } from './lexer';

/** Syntax tree of a list filter. Names are not resolved here: `attributes.ts` gives them meaning. */
export interface NameRef { name: string; pos: number }
export interface Literal { kind: 'string' | 'number' | 'bool'; value: string | number | boolean; text: string; pos: number }
export type ComparisonOp = '=' | '!=' | '<' | '>' | '<=' | '>=';
export type Expr =
  | { t: 'and' | 'or'; left: Expr; right: Expr }
  | { t: 'not'; expr: Expr }
  | { t: 'cmp'; attr: NameRef; op: ComparisonOp; value: Literal }
  | { t: 'in'; attr: NameRef; negated: boolean; values: Literal[] }
  | { t: 'between'; attr: NameRef; negated: boolean; from: Literal; to: Literal }
  | { t: 'startsWith'; attr: NameRef; negated: boolean; value: Literal }
  | { t: 'isNull'; attr: NameRef; negated: boolean };
export interface OrderItem { attr: NameRef; desc: boolean }
export interface ParsedQuery { where?: Expr; orderBy: OrderItem[]; groupBy: NameRef[] }

const COMPARISONS = new Set(['=', '!=', '<', '>', '<=', '>=']);
/** Words that cannot be an unquoted attribute name (they would make the grammar ambiguous). */
const RESERVED = new Set(['AND', 'OR', 'NOT', 'IN', 'IS', 'NULL', 'BETWEEN', 'ORDER', 'GROUP', 'BY', 'ASC', 'DESC', 'TRUE', 'FALSE', 'STARTS_WITH', 'LIMIT']);

export function parseQuery(query: string): ParsedQuery {
  return new Parser(tokenize(query)).parse();
}

class Parser {
  private i = 0;
  constructor(private readonly tokens: Token[]) {}

  parse(): ParsedQuery {
    const result: ParsedQuery = { orderBy: [], groupBy: [] };
    if (this.peek().kind !== 'eof' && !this.isWord('ORDER') && !this.isWord('GROUP')) {
      result.where = this.parseOr();
    }
    if (this.acceptWords('GROUP', 'BY')) result.groupBy = this.parseList(() => this.parseName());
    if (this.acceptWords('ORDER', 'BY')) result.orderBy = this.parseList(() => this.parseOrderItem());
    const tok = this.peek();
    if (this.isWord('LIMIT')) throw errorAt(tok.pos, "'LIMIT' clause is not supported (use the page size)");
    if (tok.kind !== 'eof') throw errorAt(tok.pos, `unexpected ${describe(tok)}`);
    return result;
  }

  private parseOr(): Expr {
    let left = this.parseAnd();
    while (this.acceptWords('OR')) left = { t: 'or', left, right: this.parseAnd() };
    return left;
  }

  private parseAnd(): Expr {
    let left = this.parseNot();
    while (this.acceptWords('AND')) left = { t: 'and', left, right: this.parseNot() };
    return left;
  }

  private parseNot(): Expr {
    if (this.acceptWords('NOT')) return { t: 'not', expr: this.parseNot() };
    if (this.peek().kind === '(') {
      this.next();
      const inner = this.parseOr();
      this.expect(')', "')'");
      return inner;
    }
    return this.parsePredicate();
  }

  private parsePredicate(): Expr {
    const attr = this.parseName();
    const tok = this.peek();
    if (tok.kind === 'op' && COMPARISONS.has(tok.text)) {
      this.next();
      return { t: 'cmp', attr, op: tok.text as ComparisonOp, value: this.parseLiteral() };
    }
    if (this.acceptWords('IS')) {
      const negated = this.acceptWords('NOT');
      if (!this.acceptWords('NULL')) throw errorAt(this.peek().pos, "'IS' must be followed by 'NULL' or 'NOT NULL'");
      return { t: 'isNull', attr, negated };
    }
    const negated = this.acceptWords('NOT');
    if (this.acceptWords('IN')) {
      this.expect('(', "'(' after IN");
      const values = this.parseList(() => this.parseLiteral());
      this.expect(')', "')' closing the IN list");
      return { t: 'in', attr, negated, values };
    }
    if (this.acceptWords('BETWEEN')) {
      const from = this.parseLiteral();
      if (!this.acceptWords('AND')) throw errorAt(this.peek().pos, "expected 'AND' in BETWEEN");
      return { t: 'between', attr, negated, from, to: this.parseLiteral() };
    }
    if (this.acceptWords('STARTS_WITH')) return { t: 'startsWith', attr, negated, value: this.parseLiteral() };
    const at = this.peek();
    if (this.isWord('LIKE')) throw errorAt(at.pos, "operator 'LIKE' is not supported (use STARTS_WITH)");
    throw errorAt(at.pos, `expected an operator after '${attr.name}' but found ${describe(at)}`);
  }

  private parseOrderItem(): OrderItem {
    const attr = this.parseName();
    if (this.acceptWords('DESC')) return { attr, desc: true };
    this.acceptWords('ASC');
    return { attr, desc: false };
  }

  private parseName(): NameRef {
    const tok = this.next();
    if (tok.kind === 'qident') return { name: tok.text, pos: tok.pos };
    if (tok.kind === 'ident' && !RESERVED.has(tok.text.toUpperCase())) return { name: tok.text, pos: tok.pos };
    throw errorAt(tok.pos, `expected a search attribute name but found ${describe(tok)}`);
  }

  private parseLiteral(): Literal {
    const tok = this.next();
    if (tok.kind === 'string') return { kind: 'string', value: tok.text, text: tok.text, pos: tok.pos };
    if (tok.kind === 'op' && (tok.text === '-' || tok.text === '+') && this.peek().kind === 'number') {
      const num = this.next();
      const text = tok.text === '-' ? `-${num.text}` : num.text;
      return { kind: 'number', value: Number(text), text, pos: tok.pos };
    }
    if (tok.kind === 'number') return { kind: 'number', value: Number(tok.text), text: tok.text, pos: tok.pos };
    const word = tok.kind === 'ident' ? tok.text.toUpperCase() : '';
    if (word === 'TRUE' || word === 'FALSE') return { kind: 'bool', value: word === 'TRUE', text: word, pos: tok.pos };
    if (word === 'NULL') throw errorAt(tok.pos, "NULL is not a value: use 'IS NULL' / 'IS NOT NULL'");
    if (tok.kind === 'ident' || tok.kind === 'qident') {
      throw errorAt(tok.pos, `expected a value but found the name '${tok.text}' (did you forget to quote it?)`);
    }
    throw errorAt(tok.pos, `expected a value but found ${describe(tok)}`);
  }

  private parseList<T>(item: () => T): T[] {
    const items = [item()];
    while (this.peek().kind === ',') {
      this.next();
      items.push(item());
    }
    return items;
  }

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.i + offset, this.tokens.length - 1)];
  }

  private next(): Token {
    const tok = this.peek();
    if (tok.kind !== 'eof') this.i++;
    return tok;
  }

  private expect(kind: Token['kind'], what: string): void {
    const tok = this.next();
    if (tok.kind !== kind) throw errorAt(tok.pos, `expected ${what} but found ${describe(tok)}`);
  }

  private isWord(word: string, offset = 0): boolean {
    const tok = this.peek(offset);
    return tok.kind === 'ident' && tok.text.toUpperCase() === word;
  }

  /** Consumes the given keyword sequence only when all of it is present. */
  private acceptWords(...words: string[]): boolean {
    if (!words.every((w, k) => this.isWord(w, k))) return false;
    this.i += words.length;
    return true;
  }
}

function describe(tok: Token): string {
  switch (tok.kind) {
    case 'eof': return 'the end of the query';
    case 'string': return `the string '${tok.text}'`;
    case 'qident': return `the name \`${tok.text}\``;
    default: return `'${tok.text}'`;
  }
}
