/**
 * The one error type of the visibility module. The server maps it to INVALID_ARGUMENT, so its message is
 * what a user sees: it names the attribute and/or the character position (1-based) that is wrong.
 */
export class VisibilityQueryError extends Error {
  override readonly name = 'VisibilityQueryError';
}

/** Builds an error that points at a 0-based offset of the query, reported 1-based as users count. */
export function errorAt(pos: number, message: string): VisibilityQueryError {
  return new VisibilityQueryError(`invalid visibility query: ${message} (at position ${pos + 1})`);
}
