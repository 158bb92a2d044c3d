/**
 * Number literals JSON.parse rounds onto a whole number they are not: `4503599627370496.5` reads as
 * 4503599627370496, `1.0000000000000001` as 1. Once parsed, the fraction is gone and every integer check
 * passes, so these are found in the request's raw text. Scans a text JSON.parse has already accepted.
 */

export interface RoundedLiteral {
  /** Keys and array indexes from the root to the number. */
  path: string[];
  /** What JSON.parse made of it. */
  value: number;
}

const NUMBER = /-?(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?/y;

/** True if the literal's exact decimal value is a whole number (`1e2`, `100.0`, `1.50e1`; not `1.5`). */
function isWholeLiteral(intDigits: string, fracDigits: string, exponent: string): boolean {
  const digits = (intDigits + fracDigits).replace(/0+$/, '');
  if (/^0*$/.test(digits)) return true;
  const trailingZeros = intDigits.length + fracDigits.length - digits.length;
  return Number(exponent || '0') - fracDigits.length + trailingZeros >= 0;
}

interface Frame {
  isObject: boolean;
  /** Current key (object) or index (array). */
  at: string | number;
  expectingKey: boolean;
}

/** The end of the string literal starting at `start` (its opening quote), just past the closing quote. */
function endOfString(text: string, start: number): number {
  let i = start + 1;
  for (;;) {
    const quote = text.indexOf('"', i);
    let backslashes = 0;
    while (text[quote - 1 - backslashes] === '\\') backslashes += 1;
    if (backslashes % 2 === 0) return quote + 1;
    i = quote + 1;
  }
}

export function roundedNumberLiterals(json: string): RoundedLiteral[] {
  const found: RoundedLiteral[] = [];
  const stack: Frame[] = [];
  const top = () => stack[stack.length - 1];
  let i = 0;
  while (i < json.length) {
    const c = json[i]!;
    if (c === '{' || c === '[') {
      stack.push({ isObject: c === '{', at: c === '{' ? '' : 0, expectingKey: c === '{' });
      i += 1;
    } else if (c === '}' || c === ']') {
      stack.pop();
      i += 1;
    } else if (c === ',') {
      const frame = top();
      if (frame?.isObject) frame.expectingKey = true;
      else if (frame) frame.at = (frame.at as number) + 1;
      i += 1;
    } else if (c === '"') {
      const end = endOfString(json, i);
      const frame = top();
      if (frame?.isObject && frame.expectingKey) {
        frame.at = JSON.parse(json.slice(i, end)) as string;
        frame.expectingKey = false;
      }
      i = end;
    } else if (c === '-' || (c >= '0' && c <= '9')) {
      NUMBER.lastIndex = i;
      const match = NUMBER.exec(json)!;
      const [literal, intDigits, fracDigits = '', exponent = ''] = match;
      const value = Number(literal);
      if (Number.isInteger(value) && !isWholeLiteral(intDigits!, fracDigits, exponent)) {
        found.push({ path: stack.map((frame) => String(frame.at)), value });
      }
      i += literal.length;
    } else {
      i += 1; // whitespace, ':', and the letters of true/false/null
    }
  }
  return found;
}
