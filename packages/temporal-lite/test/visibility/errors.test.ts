import { compileVisibilityQuery, VisibilityQueryError } from '../../src/visibility';
import { TYPES } from './fixtures';

/** Runs the compiler and returns its error, failing the test when it does not throw one. */
function errorOf(query: string): VisibilityQueryError {
  try {
    compileVisibilityQuery(query, TYPES);
  } catch (e) {
    expect(e).toBeInstanceOf(VisibilityQueryError);
    return e as VisibilityQueryError;
  }
  throw new Error(`expected ${JSON.stringify(query)} to be rejected`);
}

describe('rejected queries', () => {
  it.each([
    // Unknown attributes, with the name and where it is.
    ["Foo = 'x'", /'Foo' is not a valid search attribute \(at position 1\)/],
    ["WorkflowId = 'a' AND Bar = 1", /'Bar' is not a valid search attribute \(at position 22\)/],
    ['ORDER BY Nope', /'Nope' is not a valid search attribute/],
    ['Nope IS NULL', /'Nope'/],
    // Type mismatches, naming the attribute and its type.
    ["CustomInt = 'abc'", /invalid value 'abc' for search attribute 'CustomInt' of type Int: expected an integer \(at position 13\)/],
    ['CustomInt = 1.5', /'CustomInt' of type Int: expected an integer/],
    ['CustomInt = 99999999999999999999', /'CustomInt' of type Int/],
    ["CustomDouble = 'x'", /'CustomDouble' of type Double: expected a number/],
    ['CustomBool = 1', /'CustomBool' of type Bool: expected true or false/],
    ['CustomKeyword = 5', /'CustomKeyword' of type Keyword: expected a quoted string/],
    ['WorkflowId = true', /'WorkflowId' of type Keyword/],
    ["CustomDatetime = 'tomorrow'", /'CustomDatetime' of type Datetime: expected an RFC 3339 datetime/],
    ["CustomInt IN (1, 'two')", /invalid value 'two' for search attribute 'CustomInt'/],
    ["CustomInt BETWEEN 1 AND 'z'", /invalid value 'z'/],
    // Operators a type does not support.
    ["CustomText STARTS_WITH 'a'", /'STARTS_WITH' is not supported for Text search attribute 'CustomText'/],
    ["CustomText > 'a'", /'>' is not supported for Text search attribute 'CustomText'/],
    ["CustomText IN ('a')", /'IN' is not supported for Text/],
    ["CustomList > 'a'", /'>' is not supported for KeywordList search attribute 'CustomList'/],
    ["CustomList BETWEEN 'a' AND 'b'", /'BETWEEN' is not supported for KeywordList/],
    ['CustomBool > false', /'>' is not supported for Bool search attribute 'CustomBool'/],
    ['CustomBool NOT BETWEEN false AND true', /'NOT BETWEEN' is not supported for Bool/],
    ['CustomInt STARTS_WITH 4', /'STARTS_WITH' is not supported for Int/],
    ["CustomText = ' ,;- '", /no words to match .* 'CustomText'/],
    // Syntax.
    ["WorkflowId = 'unterminated", /unterminated string literal \(at position 14\)/],
    ['`WorkflowId = 1', /unterminated backtick-quoted name/],
    ["WorkflowId == 'a'", /expected a value but found '='/],
    ["WorkflowId 'a'", /expected an operator after 'WorkflowId' but found the string 'a'/],
    ["WorkflowId LIKE 'a%'", /'LIKE' is not supported \(use STARTS_WITH\)/],
    ['WorkflowId = ', /expected a value but found the end of the query/],
    ['WorkflowId = abc', /found the name 'abc' \(did you forget to quote it\?\)/],
    ['WorkflowId = NULL', /use 'IS NULL'/],
    ['WorkflowId IS EMPTY', /'IS' must be followed by 'NULL' or 'NOT NULL'/],
    ["(WorkflowId = 'a'", /expected '\)' but found the end of the query/],
    ["WorkflowId = 'a')", /unexpected '\)'/],
    ["WorkflowId = 'a' AND", /expected a search attribute name but found the end of the query/],
    ["WorkflowId = 'a' OR OR", /expected a search attribute name but found 'OR'/],
    ["WorkflowId IN ()", /expected a value but found '\)'/],
    ["WorkflowId IN ('a'", /expected '\)' closing the IN list/],
    ["WorkflowId BETWEEN 'a' 'b'", /expected 'AND' in BETWEEN/],
    ["WorkflowId = 'a' ; DROP TABLE x", /unexpected character ';' \(at position 18\)/],
    ["WorkflowId = 'a' LIMIT 10", /'LIMIT' clause is not supported/],
    ["WorkflowId = 'a' ORDER StartTime", /unexpected 'ORDER'/],
    ['CustomInt = 12abc', /malformed number/],
    ['ORDER BY CustomText', /cannot ORDER BY Text search attribute 'CustomText'/],
    ['ORDER BY CustomList DESC', /cannot ORDER BY KeywordList search attribute 'CustomList'/],
    ['GROUP BY WorkflowType', /'GROUP BY' is only supported for ExecutionStatus, not 'WorkflowType'/],
    ['GROUP BY ExecutionStatus, ExecutionStatus', /single field/],
  ])('%s', (query, message) => {
    expect(errorOf(query).message).toMatch(message);
  });

  it('every message says it is a visibility query problem', () => {
    expect(errorOf('x').message).toMatch(/^invalid visibility query: /);
  });
});
