// Supported Node releases: 22 and 24 (20 left maintenance in April 2026). Every
// package says so in engines, and CI runs the published packages' suites
// under both (fetched from the npm registry by tools/node-versions) as a
// step whose results count in its "N passed, N failed" line.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from './run';

const SUPPORTED = '>=22';

const manifests = [
  path.join(repoRoot, 'package.json'),
  ...fs
    .readdirSync(path.join(repoRoot, 'packages'))
    .map((dir) => path.join(repoRoot, 'packages', dir, 'package.json'))
    .filter((file) => fs.existsSync(file)),
];

test('every package.json states the supported Node range in engines', () => {
  const stated = manifests.map((file) => ({
    file: path.relative(repoRoot, file),
    node: JSON.parse(fs.readFileSync(file, 'utf8')).engines?.node,
  }));
  expect(stated).toEqual(stated.map(({ file }) => ({ file, node: SUPPORTED })));
});

test('the Node releases the suites run under are 22 and 24', () => {
  const { versions } = JSON.parse(
    fs.readFileSync(path.join(repoRoot, 'tools', 'node-versions', 'versions.json'), 'utf8'),
  ) as { versions: string[] };
  expect(versions.map((v) => Number(v.split('.')[0])).sort()).toEqual([22, 24]);
});

test("CI runs the published packages' suites under Node 22 and 24 and counts their reports", () => {
  const ci = fs.readFileSync(path.join(repoRoot, '.ci', 'run'), 'utf8');
  const { versions } = JSON.parse(
    fs.readFileSync(path.join(repoRoot, 'tools', 'node-versions', 'versions.json'), 'utf8'),
  ) as { versions: string[] };
  const step = ci.split('\n').find((line) => line.includes('tools/node-versions/run-suites.cjs'));
  expect(step).toBeDefined();
  expect(/--versions (\S+)/.exec(step!)?.[1]?.split(',')).toEqual(versions);
  for (const pkg of ['cli', 'registry', 'client', 'testing']) expect(step).toContain(`packages/${pkg}`);
  expect(/--report-dir (\S+)/.exec(step!)?.[1]).toBe('reports/node-versions');
  // The summary reads a report per suite and release from that folder; a missing one counts as a failure.
  expect(ci).toContain("path.join('reports', 'node-versions'");
  expect(ci).toContain(`NODE_VERSIONS_RUN="${versions.join(' ')}"`);
  expect(ci).toMatch(/NODE_VERSIONS_SUITES="cli registry client testing"/);
});
