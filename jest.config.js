/** Root test suite: the application's tests under test/. The Temporal-compatible server has its own. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  transform: { '^.+\\.tsx?$': ['@swc/jest'] },
  testTimeout: 60_000,
};
