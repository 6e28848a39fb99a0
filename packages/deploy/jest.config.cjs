// Unit tests only; the tests against a real control plane run through
// jest.cluster.config.cjs (`npm run test:cluster` at the root).
const base = require('../../jest.preset.cjs')(__dirname);

module.exports = {
  ...base,
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/cluster/'],
  // Sibling packages' sources import './x.js' (their ESM builds need it); resolve those to .ts.
  moduleNameMapper: { ...base.moduleNameMapper, '^(\\.{1,2}/.*)\\.js$': '$1' },
  // @kubernetes/client-node 1.x and some of its dependencies ship ES modules only.
  transformIgnorePatterns: ['/node_modules/(?!(@kubernetes/client-node|openid-client|oauth4webapi|jose)/)'],
};
