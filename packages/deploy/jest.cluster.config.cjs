// Tests against the local control plane (tools/cluster): one cluster for the
// whole run, started by the global set-up and stopped by the teardown.
const base = require('./jest.config.cjs');

module.exports = {
  ...base,
  testPathIgnorePatterns: ['/node_modules/'],
  testMatch: ['<rootDir>/test/cluster/**/*.test.ts'],
  globalSetup: '<rootDir>/test/cluster/global-setup.cjs',
  globalTeardown: '<rootDir>/test/cluster/global-teardown.cjs',
  // helm install + rollout through kwok on a loaded two-core machine.
  testTimeout: 240_000,
};
