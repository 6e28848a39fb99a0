// Tests with the real Prometheus tools (promtool, a Prometheus on loopback),
// run by `npm run test:cluster`, which puts them into ~/.cache/catwalk/prometheus
// and exports CATWALK_PROMTOOL / CATWALK_PROMETHEUS.
const base = require('../../jest.preset.cjs')(__dirname);

module.exports = {
  ...base,
  testPathIgnorePatterns: ['/node_modules/'],
  testMatch: ['<rootDir>/test/cluster/**/*.test.ts'],
  // The live-Prometheus test runs @catwalk/testing's sources, which import siblings as './x.js'.
  moduleNameMapper: { ...base.moduleNameMapper, '^(\\.{1,2}/.*)\\.js$': '$1' },
  // promtool runs and a live Prometheus on a loaded two-core machine.
  testTimeout: 180_000,
};
