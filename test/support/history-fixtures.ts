/**
 * Replay fixtures: histories of each generation path, recorded from real runs and replayed in CI with
 * `Worker.runReplayHistories`, so a change that makes the workflow nondeterministic fails the build.
 * Recording happens only with RECORD_HISTORIES=1 (then commit the files); normal runs only read them.
 * Stored as the protobuf encoding of `temporal.api.history.v1.History` (`.pb`), byte-exact.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';

export const HISTORY_FIXTURES_DIR = path.resolve(__dirname, '..', 'fixtures', 'histories');

export async function recordHistoryFixture(client: Client, name: string, workflowId: string): Promise<void> {
  if (process.env.RECORD_HISTORIES !== '1') return;
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  fs.mkdirSync(HISTORY_FIXTURES_DIR, { recursive: true });
  fs.writeFileSync(path.join(HISTORY_FIXTURES_DIR, `${name}.pb`), temporal.api.history.v1.History.encode(history).finish());
}

export interface HistoryFixture {
  name: string;
  history: temporal.api.history.v1.IHistory;
}

export function loadHistoryFixtures(): HistoryFixture[] {
  if (!fs.existsSync(HISTORY_FIXTURES_DIR)) return [];
  return fs.readdirSync(HISTORY_FIXTURES_DIR)
    .filter((file) => file.endsWith('.pb'))
    .sort()
    .map((file) => ({
      name: file.replace(/\.pb$/, ''),
      history: temporal.api.history.v1.History.decode(fs.readFileSync(path.join(HISTORY_FIXTURES_DIR, file))),
    }));
}
