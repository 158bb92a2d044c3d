import { defaultPriceBook } from '../../src/pricing';
import { deliveredCredits } from '../../src/pricing/delivered';
import { findOutputProblems } from '../../src/policy/output-validation';
import { defaultSettlementPolicy, settlementActionFor } from '../../src/policy/settlement';
import { decideSettlement } from '../../src/policy/settlement-decision';

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

describe('settlement decision', () => {
  const base = { feature: 'video', params: { durationSeconds: 10, modelTier: 'standard' }, quotedCredits: 50, acceptedContentTypes: ['video/*'], policy: defaultSettlementPolicy, book: defaultPriceBook };
  const clip = (durationSeconds: number) => ({ url: 'u', sizeBytes: 10, contentType: 'video/mp4', durationSeconds });

  test('a valid success captures what was delivered', () => {
    expect(decideSettlement({ ...base, reason: 'succeeded', outputs: [clip(10)] })).toEqual({ action: 'capture', reason: 'succeeded', captureCredits: 50, outputProblems: [] });
    expect(decideSettlement({ ...base, reason: 'succeeded', outputs: [clip(4)] })).toMatchObject({ action: 'capture', captureCredits: 20 });
  });
  test('a success with invalid outputs is a refunded corrupted_output', () => {
    const decision = decideSettlement({ ...base, reason: 'succeeded', outputs: [{ ...clip(10), contentType: 'image/png' }] });
    expect(decision).toMatchObject({ action: 'release', reason: 'corrupted_output' });
    expect(decision.outputProblems[0]?.problem).toBe('wrong_content_type');
  });
  test('a success that delivered nothing is released', () => {
    expect(decideSettlement({ ...base, reason: 'succeeded', outputs: [clip(0)] })).toMatchObject({ action: 'release', captureCredits: 0 });
  });
  test('failures follow the policy', () => {
    expect(decideSettlement({ ...base, reason: 'safety_filter', outputs: undefined })).toMatchObject({ action: 'capture', captureCredits: 50 });
    expect(decideSettlement({ ...base, reason: 'deadline_exceeded', outputs: undefined })).toMatchObject({ action: 'release' });
  });
});
