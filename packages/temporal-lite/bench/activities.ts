/** The benchmark's activity does nothing, so that what is measured is the server and the SDK round trips. */
export function createBenchActivities() {
  return {
    async noop(): Promise<void> {
      // intentionally empty
    },
  };
}

export type BenchActivities = ReturnType<typeof createBenchActivities>;
