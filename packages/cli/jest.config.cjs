const base = require('../../jest.preset.cjs')(__dirname);

// @catwalk/testing (the fake TF Serving, in the chart and sidecar contract test) is
// used from its sources, which import siblings as './x.js': resolve those to .ts.
module.exports = {
  ...base,
  moduleNameMapper: { ...base.moduleNameMapper, '^(\\.{1,2}/.*)\\.js$': '$1' },
};
