/** Root test suite: the application's tests under test/. The Temporal-compatible server has its own. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  transform: { '^.+\\.tsx?$': ['@swc/jest'] },
  testTimeout: 60_000,
  // One real PostgreSQL for the whole run (embedded, or DATABASE_URL) and a migrated template database.
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
};
