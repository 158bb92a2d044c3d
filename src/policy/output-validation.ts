/**
 * Checks what a generator says it delivered before the user is charged for it.
 *
 * A success whose outputs are missing, empty, of a type the feature cannot produce, or blank (flagged, or 0 s long) is a
 * technical failure (`corrupted_output`): the user must not pay for content they cannot use.
 */

export interface GenerationOutput {
  url: string;
  sizeBytes: number;
  contentType: string;
  sha256?: string;
  width?: number;
  height?: number;
  durationSeconds?: number;
  blank?: boolean;
}

export interface OutputProblem {
  index: number | null;
  problem: 'missing' | 'zero_bytes' | 'wrong_content_type' | 'blank';
  detail: string;
}

/** `acceptsContentType` is the feature's rule, as quoted (see `contentTypeMatches` in src/pricing). */
export function findOutputProblems(
  outputs: readonly GenerationOutput[] | undefined,
  acceptsContentType: (contentType: string) => boolean,
): OutputProblem[] {
  if (!outputs || outputs.length === 0) {
    return [{ index: null, problem: 'missing', detail: 'a success was reported without outputs' }];
  }
  return outputs.flatMap((output, index) => problemsOf(output, index, acceptsContentType));
}

function problemsOf(output: GenerationOutput, index: number, accepts: (contentType: string) => boolean): OutputProblem[] {
  const problems: OutputProblem[] = [];
  if (!(output.sizeBytes > 0)) problems.push({ index, problem: 'zero_bytes', detail: `size is ${output.sizeBytes} bytes` });
  if (!accepts(output.contentType)) {
    problems.push({ index, problem: 'wrong_content_type', detail: `${output.contentType} does not fit the feature` });
  }
  if (output.blank === true) problems.push({ index, problem: 'blank', detail: 'the generator flagged the output blank' });
  // A video (or any timed output) that lasts no time at all shows nothing: blank, whatever its flag says.
  else if (output.durationSeconds === 0) problems.push({ index, problem: 'blank', detail: 'the output lasts 0 seconds' });
  return problems;
}
