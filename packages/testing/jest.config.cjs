const base = require('../../jest.preset.cjs')(__dirname);

// Sources import siblings as './x.js' (what Node's ESM build needs); jest
// resolves those to the .ts files.
module.exports = {
  ...base,
  moduleNameMapper: {
    ...base.moduleNameMapper,
    '^@catwalk/client/wire$': require('node:path').join(__dirname, '../client/src/wire.ts'),
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
};
