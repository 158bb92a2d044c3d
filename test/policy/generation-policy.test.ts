import { defaultPriceBook } from '../../src/pricing';
import { deliveredCredits } from '../../src/pricing/delivered';
import { findOutputProblems } from '../../src/policy/output-validation';
import { defaultSettlementPolicy, settlementActionFor } from '../../src/policy/settlement';

describe('settlement policy', () => {
  test.each([
    ['succeeded', 'capture'], ['system_error', 'release'], ['platform_error', 'release'], ['corrupted_output', 'release'],
    ['deadline_exceeded', 'release'], ['cancelled', 'release'], ['template_mismatch', 'capture'], ['safety_filter', 'capture'],
  ] as const)('%s → %s', (reason, action) => {
    expect(settlementActionFor(reason, defaultSettlementPolicy)).toBe(action);
  });

  test('is configurable: a platform that refunds safety-filter blocks', () => {
    expect(settlementActionFor('safety_filter', { refundedReasons: ['safety_filter'] })).toBe('release');
    expect(settlementActionFor('system_error', { refundedReasons: ['safety_filter'] })).toBe('capture');
  });
});

describe('output validation', () => {
  const images = (ct: string) => ct.startsWith('image/');
  const ok = { url: 'u', sizeBytes: 10, contentType: 'image/png' };

  test('valid outputs have no problems', () => {
    expect(findOutputProblems([ok, { ...ok, contentType: 'image/webp; q=1' }], images)).toEqual([]);
  });
  test('every problem of every output is named', () => {
    const problems = findOutputProblems([{ ...ok, sizeBytes: 0, blank: true }, { ...ok, contentType: 'text/html' }], images);
    expect(problems.map((p) => [p.index, p.problem])).toEqual([[0, 'zero_bytes'], [0, 'blank'], [1, 'wrong_content_type']]);
  });
  test('no outputs at all is a problem', () => {
    expect(findOutputProblems(undefined, images)).toEqual([expect.objectContaining({ problem: 'missing', index: null })]);
    expect(findOutputProblems([], images)).toHaveLength(1);
  });
});

describe('delivered credits', () => {
  const video = { durationSeconds: 10, modelTier: 'pro' };
  test('a shorter video is charged by the seconds delivered, rounded up', () => {
    expect(deliveredCredits('video', video, [{ durationSeconds: 5.2 }], 100, defaultPriceBook)).toBe(60);
  });
  test('never more than the quote, and the full quote when durations are not reported', () => {
    expect(deliveredCredits('video', video, [{ durationSeconds: 12 }], 100, defaultPriceBook)).toBe(100);
    expect(deliveredCredits('video', video, [{}], 100, defaultPriceBook)).toBe(100);
    expect(deliveredCredits('image', { resolution: '1K' }, [{}], 10, defaultPriceBook)).toBe(10);
  });
});
