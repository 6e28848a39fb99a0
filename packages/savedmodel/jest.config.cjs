const path = require('node:path');
const base = require('../../jest.preset.cjs')(__dirname);

// Sources import siblings as './x.js' (what the generated protobuf code does
// too); jest resolves those to the .ts files. The warm-up test decodes records
// with @catwalk/client's wire protos, from their sources.
module.exports = {
  ...base,
  moduleNameMapper: {
    ...base.moduleNameMapper,
    '^@catwalk/client/wire$': path.join(__dirname, '../client/src/wire.ts'),
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
};
