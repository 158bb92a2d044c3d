/** Shared by the benchmarks: `total` tasks spread over `concurrency` loops, each taking the next index. */
export async function runConcurrently(total: number, concurrency: number, task: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    for (let i = next++; i < total; i = next++) await task(i);
  }));
  return Number(process.hrtime.bigint() - started) / 1e9;
}
