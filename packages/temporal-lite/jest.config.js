module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  transform: { '^.+\\.tsx?$': ['@swc/jest'] },
  testTimeout: 60_000,
};
