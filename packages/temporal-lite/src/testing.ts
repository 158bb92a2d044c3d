/**
 * Test helpers for apps: the SDK's TestWorkflowEnvironment, backed by temporal-lite
 * (spawned as a subprocess through the `existing-path` executable route, exactly how
 * the SDK runs its own downloaded servers).
 */
import * as path from 'path';
import {
  TestWorkflowEnvironment,
  type LocalTestWorkflowEnvironmentOptions,
  type TimeSkippingTestWorkflowEnvironmentOptions,
} from '@temporalio/testing';

/** Path of the temporal-lite executable. */
export const TEMPORAL_LITE_BIN = path.resolve(__dirname, '..', 'bin', 'temporal-lite');

/** Like `TestWorkflowEnvironment.createTimeSkipping()` (time skipping on, starts locked). */
export function createTimeSkippingTestEnv(opts: TimeSkippingTestWorkflowEnvironmentOptions = {}): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createTimeSkipping({
    ...opts,
    server: { ...opts.server, executable: { type: 'existing-path', path: TEMPORAL_LITE_BIN } },
  });
}

/** Like `TestWorkflowEnvironment.createLocal()` (real time; `server.searchAttributes` and `namespace` honoured). */
export function createLocalTestEnv(opts: LocalTestWorkflowEnvironmentOptions = {}): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createLocal({
    ...opts,
    server: { ...opts.server, executable: { type: 'existing-path', path: TEMPORAL_LITE_BIN } },
  });
}
