import { errorAt } from './errors';

/**
 * Tokens of Temporal's SQL-like list filter. Keywords (AND, ORDER, ...) come out as plain `ident`s and are
 * recognised by the parser case-insensitively; a backtick-quoted name is a `qident` and is never a keyword.
 */
export type TokenKind = 'ident' | 'qident' | 'string' | 'number' | 'op' | '(' | ')' | ',' | 'eof';

export interface Token {
  kind: TokenKind;
  /** Identifier / operator text, the unescaped string, or the number's source text. */
  text: string;
  /** 0-based offset in the query, for error messages. */
  pos: number;
}

const OPERATORS = ['<=', '>=', '!=', '<>', '=', '<', '>', '-', '+'];

// MySQL-style backslash escapes, as the server's SQL parser understands them.
const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', '0': '\0', b: '\b', Z: '\x1a' };

export function tokenize(query: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < query.length) {
    const c = query[i];
    if (/\s/.test(c)) {
      i++;
    } else if (c === "'" || c === '"' || c === '`') {
      const { text, end } = readQuoted(query, i);
      tokens.push({ kind: c === '`' ? 'qident' : 'string', text, pos: i });
      i = end;
    } else if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(query[i + 1] ?? ''))) {
      const m = /^(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?/.exec(query.slice(i));
      const text = m ? m[0] : c;
      if (/[A-Za-z_]/.test(query[i + text.length] ?? '')) {
        throw errorAt(i, `malformed number starting '${query.slice(i, i + text.length + 1)}'`);
      }
      tokens.push({ kind: 'number', text, pos: i });
      i += text.length;
    } else if (/[A-Za-z_]/.test(c)) {
      const text = /^[A-Za-z_][A-Za-z0-9_]*/.exec(query.slice(i))![0];
      tokens.push({ kind: 'ident', text, pos: i });
      i += text.length;
    } else if (c === '(' || c === ')' || c === ',') {
      tokens.push({ kind: c, text: c, pos: i });
      i++;
    } else {
      const op = OPERATORS.find((o) => query.startsWith(o, i));
      if (!op) throw errorAt(i, `unexpected character '${c}'`);
      tokens.push({ kind: 'op', text: op === '<>' ? '!=' : op, pos: i });
      i += op.length;
    }
  }
  tokens.push({ kind: 'eof', text: '', pos: query.length });
  return tokens;
}

/** Reads a quoted string or name starting at `start`; a doubled quote stands for itself. */
function readQuoted(query: string, start: number): { text: string; end: number } {
  const quote = query[start];
  let out = '';
  let i = start + 1;
  while (i < query.length) {
    const c = query[i];
    if (c === quote) {
      if (query[i + 1] === quote) {
        out += quote;
        i += 2;
        continue;
      }
      return { text: out, end: i + 1 };
    }
    if (c === '\\' && quote !== '`' && i + 1 < query.length) {
      const next = query[i + 1];
      out += ESCAPES[next] ?? next;
      i += 2;
      continue;
    }
    out += c;
    i++;
  }
  const what = quote === '`' ? 'backtick-quoted name' : 'string literal';
  throw errorAt(start, `unterminated ${what}`);
}
