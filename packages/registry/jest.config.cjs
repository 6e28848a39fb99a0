const path = require('node:path');
const base = require('../../jest.preset.cjs')(__dirname);

// @catwalk/testing (the fake TF Serving) is tested against its sources, which
// import siblings as './x.js' (what Node's ESM build needs): resolve those to .ts.
module.exports = {
  ...base,
  moduleNameMapper: {
    ...base.moduleNameMapper,
    // @catwalk/savedmodel takes TF Serving's messages from the client's wire module: its sources too.
    '^@catwalk/client/wire$': path.join(__dirname, '../client/src/wire.ts'),
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
};
