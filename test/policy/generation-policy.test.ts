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
  test('a success that delivered nothing is released (a 0-second clip is blank)', () => {
    expect(decideSettlement({ ...base, reason: 'succeeded', outputs: [clip(0)] })).toMatchObject({ action: 'release', reason: 'corrupted_output' });
  });
  test('failures follow the policy', () => {
    expect(decideSettlement({ ...base, reason: 'safety_filter', outputs: undefined })).toMatchObject({ action: 'capture', captureCredits: 50 });
    expect(decideSettlement({ ...base, reason: 'deadline_exceeded', outputs: undefined })).toMatchObject({ action: 'release' });
  });
});

describe('delivered credits: what was really delivered', () => {
  const video = { durationSeconds: 10, modelTier: 'standard' };
  test('clips whose durations add up to a whole number of seconds are not charged a second more', () => {
    // 0.2 + 2.2 + 0.6 is 3.0000000000000004 in floating point: 3 seconds delivered, not 4.
    expect(deliveredCredits('video', video, [{ durationSeconds: 0.2 }, { durationSeconds: 2.2 }, { durationSeconds: 0.6 }], 50, defaultPriceBook)).toBe(15);
  });
  test('the same clip reported twice is delivered once', () => {
    const clip = { url: 'https://cdn.example/v.mp4', durationSeconds: 5 };
    expect(deliveredCredits('video', video, [clip, { ...clip }], 50, defaultPriceBook)).toBe(25);
    const sameContent = { url: 'https://cdn.example/a.mp4', sha256: 'a'.repeat(64), durationSeconds: 4 };
    expect(deliveredCredits('video', video, [sameContent, { ...sameContent, url: 'https://cdn.example/b.mp4', sha256: 'A'.repeat(64) }], 50, defaultPriceBook)).toBe(20);
    // Distinct clips still add up.
    expect(deliveredCredits('video', video, [clip, { ...clip, url: 'https://cdn.example/w.mp4' }], 50, defaultPriceBook)).toBe(50);
  });
});

describe('a video of 0 seconds', () => {
  test('is a blank output: a corrupted_output, refunded as one, not a "succeeded" that releases', () => {
    const decision = decideSettlement({
      feature: 'video', params: { durationSeconds: 10, modelTier: 'standard' }, quotedCredits: 50, acceptedContentTypes: ['video/*'],
      policy: defaultSettlementPolicy, book: defaultPriceBook, reason: 'succeeded',
      outputs: [{ url: 'u', sizeBytes: 10, contentType: 'video/mp4', durationSeconds: 0 }],
    });
    expect(decision).toMatchObject({ action: 'release', reason: 'corrupted_output', outputProblems: [{ index: 0, problem: 'blank' }] });
  });
});
