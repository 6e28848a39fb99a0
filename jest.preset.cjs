// Shared jest settings: TypeScript through SWC (no type checking here; `tsc`
// in the build target does that). Each package's test script adds
// `--json --outputFile=../../reports/jest/<package>.json` for .ci/run.
const path = require('node:path');

module.exports = function jestConfig(projectDir) {
  return {
    rootDir: projectDir,
    testEnvironment: 'node',
    testMatch: ['<rootDir>/test/**/*.test.ts'],
    // Generous per-test limit: tests talk to real servers and tools, and CI runs
    // several packages' suites at once on two cores.
    testTimeout: 30_000,
    transform: {
      '^.+\\.(t|j)sx?$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } } }],
    },
    // Sibling packages are tested against their sources, so a test run never
    // depends on a stale dist/ of another package.
    moduleNameMapper: {
      '^@catwalk/([a-z-]+)$': path.join(__dirname, 'packages/$1/src/index.ts'),
      // A subpath export (@catwalk/schema/names) is the source module of that name.
      '^@catwalk/([a-z-]+)/([a-z-]+)$': path.join(__dirname, 'packages/$1/src/$2.ts'),
    },
  };
};
