const path = require('node:path');
const base = require('../../jest.preset.cjs')(__dirname);

// @catwalk/testing (the fake TF Serving, in the chart and sidecar contract test) is
// used from its sources, which import siblings as './x.js': resolve those to .ts.
module.exports = {
  ...base,
  moduleNameMapper: {
    ...base.moduleNameMapper,
    // @catwalk/savedmodel takes TF Serving's messages from the client's wire module: its sources too.
    '^@catwalk/client/wire$': path.join(__dirname, '../client/src/wire.ts'),
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  // @kubernetes/client-node 1.x and some of its dependencies ship ES modules only
  // (the experiment commands reach it through @catwalk/deploy).
  transformIgnorePatterns: ['/node_modules/(?!(@kubernetes/client-node|openid-client|oauth4webapi|jose)/)'],
};
