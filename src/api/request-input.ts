/**
 * Checks at the edge, before any schema, hash or handler sees a request. Every string of the body, path and
 * query (object keys included) must be one Postgres can store: `text` refuses NUL and `jsonb` also refuses
 * lone UTF-16 surrogates, so such a string would otherwise fail deep inside a handler — as a 500, and possibly
 * after something was already written. The body may nest at most MAX_NESTING_DEPTH levels: every recursive
 * walk after this one (the idempotency hash, zod) would otherwise exhaust the stack. A number whose JSON
 * literal has a fraction that JSON.parse rounds away (`1.0000000000000001` → 1) is refused wherever it is: the
 * schemas would see a whole number the client did not send. One 400 names each field.
 */
import express, { type Request, type Response } from 'express';
import { unstorableTextReason } from '../db/text';
import { ApiError, type FieldIssue } from './errors';
import { roundedNumberLiterals } from './json-literals';

export const MAX_NESTING_DEPTH = 32;

/** Enough to fix a request; a body full of bad strings must not make an enormous answer. */
const MAX_ISSUES = 20;

/** A key that is itself unstorable is named by its JSON escape, so the answer names it readably. */
const escaped = (key: string) => JSON.stringify(key).slice(1, -1);
const segment = (key: string) => (unstorableTextReason(key) ? escaped(key) : key);

class Walk {
  readonly issues: FieldIssue[] = [];
  /** The segments down to the value being walked: one stack, joined only when an issue is recorded. */
  private readonly path: string[] = [];

  add(path: readonly string[], reason: string): void {
    if (this.issues.length < MAX_ISSUES) this.issues.push({ path: path.join('.') || '(root)', reason });
  }

  /** Walks `value`, found at `root` (no segment for the body). */
  walk(value: unknown, root?: string): void {
    if (root !== undefined) this.path.push(root);
    this.value(value, 0);
    if (root !== undefined) this.path.pop();
  }

  private value(value: unknown, depth: number): void {
    if (this.issues.length >= MAX_ISSUES) return;
    if (typeof value === 'string') {
      const reason = unstorableTextReason(value);
      if (reason) this.add(this.path, reason);
      return;
    }
    if (value === null || typeof value !== 'object') return;
    if (depth >= MAX_NESTING_DEPTH) {
      this.add(this.path, `must not nest more than ${MAX_NESTING_DEPTH} levels deep`);
      return;
    }
    if (Array.isArray(value)) {
      value.forEach((item, index) => {
        this.path.push(String(index));
        this.value(item, depth + 1);
        this.path.pop();
      });
      return;
    }
    for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
      const reason = unstorableTextReason(key);
      this.path.push(reason ? escaped(key) : key);
      if (reason) this.add(this.path, `field name ${reason}`);
      this.value(item, depth + 1);
      this.path.pop();
    }
  }
}

/** The body's text as received, kept by the JSON parser (readJsonBody) for the literal check. */
const rawBodies = new WeakMap<object, Buffer>();

export function keepRawBody(req: object, body: Buffer): void {
  rawBodies.set(req, body);
}

export function rawBodyOf(req: object): Buffer | undefined {
  return rawBodies.get(req);
}

const jsonParser = express.json({ limit: '100kb', strict: true, verify: (req, _res, body) => keepRawBody(req, body) });

/** The one media type a body may have (parameters aside: a charset other than UTF-8 is refused by the parser). */
const isJsonMediaType = (contentType: string) => contentType.split(';', 1)[0]!.trim().toLowerCase() === 'application/json';

/** No body at all: neither framed (Transfer-Encoding) nor announced with a length other than 0. */
function hasNoBody(req: Request): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] === undefined && (length === undefined || /^0+$/.test(length));
}

function notJson(): ApiError {
  return new ApiError('UnsupportedMediaType', 'the request body must be JSON, sent with Content-Type: application/json');
}

/**
 * Reads a JSON body into req.body — called by mount.ts only for routes that read one, and only once the
 * caller is authenticated and authorized: an anonymous or unauthorized request is answered 401/403 without
 * its body being read (not 400 or 413 about a body it had no right to send), and a GET's body is never read
 * (a malformed one there cannot turn the answer into a 400). Its failures (invalid JSON, too large, a
 * foreign charset or Content-Encoding) reject with body-parser's errors, which errors.ts maps.
 *
 * A body that is not declared JSON is a 415 (the parser would skip it, leaving the schema to say "expected
 * object, received undefined"), and so is a declared non-JSON type even on an empty body: the client said it
 * sends something else. No body at all is read as `{}`, as body-parser already reads an empty JSON body: a
 * route whose fields are all optional (cancel, progress) takes it, any other names its required fields.
 */
export async function readJsonBody(req: Request, res: Response): Promise<void> {
  const contentType = req.headers['content-type'];
  if (contentType !== undefined && !isJsonMediaType(contentType)) throw notJson();
  await new Promise<void>((resolve, reject) => {
    jsonParser(req, res, (error?: unknown) => (error === undefined ? resolve() : reject(error)));
  });
  if (req.body !== undefined) return;
  // Left unread by the parser: no body at all, or one it would not take as JSON (no Content-Type, or one
  // whose parameters it cannot parse).
  if (!hasNoBody(req)) throw notJson();
  req.body = {};
}

export interface RequestInput {
  /** Checked when the route reads it (or hashes it, on a POST). */
  body?: unknown;
  /** The text `body` was parsed from, if it came as JSON. */
  rawBody?: Buffer;
  params?: unknown;
  query?: unknown;
}

/** Throws a 400 ValidationError naming each unstorable string and any too-deep nesting; else returns. */
export function checkRequestInput(input: RequestInput): void {
  const walk = new Walk();
  // Path and query are flat (strings, or arrays of strings for a repeated query field): depth is no issue.
  walk.walk(input.params, 'path');
  walk.walk(input.query, 'query');
  walk.walk(input.body);
  if (input.rawBody !== undefined && input.body !== undefined) {
    for (const { path, value } of roundedNumberLiterals(input.rawBody.toString('utf8'))) {
      walk.add(path.map(segment), `must be exactly the number sent: its fraction would be rounded away (read as ${value})`);
    }
  }
  if (walk.issues.length === 0) return;
  const fields = walk.issues;
  throw new ApiError('ValidationError', `invalid request: ${fields.map((f) => f.path).join(', ')}`, { fields });
}
