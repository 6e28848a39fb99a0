const base = require('../../jest.preset.cjs')(__dirname);

// Sources import siblings as './x.js' (what the generated protobuf code does
// too); jest resolves those to the .ts files.
module.exports = {
  ...base,
  moduleNameMapper: { ...base.moduleNameMapper, '^(\\.{1,2}/.*)\\.js$': '$1' },
};
