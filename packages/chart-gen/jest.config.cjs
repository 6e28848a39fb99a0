const base = require('../../jest.preset.cjs')(__dirname);

module.exports = {
  ...base,
  // test/cluster needs promtool and Prometheus: `npm run test:cluster` runs it
  // (jest.cluster.config.cjs).
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/cluster/'],
};
