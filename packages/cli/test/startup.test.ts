// Start-up cost: a command loads only the packages it uses. `catwalk
// --version` or `validate` must not pay for the S3 SDK, the Kubernetes
// client or the chart generator (several hundred ms on a 2-core machine).
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { repoRoot } from './run';

const mainJs = path.join(__dirname, '..', 'dist', 'main.js');
const spec = path.join(repoRoot, 'examples', 'models', 'pricing.yaml');

/** Runs the built CLI in a fresh process and lists which of `watched` it loaded. */
function loadedBy(args: string[], watched: readonly string[]): string[] {
  const script = `
    const main = require(${JSON.stringify(mainJs)});
    const sink = { write: () => true };
    main.run(${JSON.stringify(args)}, { stdout: sink, stderr: sink, cwd: process.cwd(), color: false }).then((code) => {
      const loaded = Object.keys(require.cache);
      const hits = ${JSON.stringify(watched)}.filter((w) => loaded.some((file) => file.includes(w)));
      process.stdout.write(JSON.stringify({ code, hits }));
    });`;
  const out = JSON.parse(
    execFileSync(process.execPath, ['-e', script], {
      cwd: repoRoot,
      encoding: 'utf8',
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    }),
  );
  return out.hits;
}

const heavy = [
  `${path.sep}@aws-sdk${path.sep}`,
  `${path.sep}@kubernetes${path.sep}client-node${path.sep}`,
  `${path.sep}chart-gen${path.sep}dist${path.sep}`,
  `${path.sep}registry${path.sep}dist${path.sep}`,
  `${path.sep}deploy${path.sep}dist${path.sep}`,
  `${path.sep}savedmodel${path.sep}dist${path.sep}`,
];

describe('start-up', () => {
  test('--version and --help load none of the command packages', () => {
    expect(loadedBy(['--version'], heavy)).toEqual([]);
    expect(loadedBy(['--help'], heavy)).toEqual([]);
    expect(loadedBy(['push', '--help'], heavy)).toEqual([]);
  });

  test('validate loads the spec package only', () => {
    expect(loadedBy(['validate', spec], heavy)).toEqual([]);
  });

  test('a command still loads what it needs', () => {
    // `versions` with no reachable bucket fails, but only after loading the registry.
    expect(loadedBy(['versions', 's3://models/none', '--endpoint', 'http://127.0.0.1:9'], heavy)).toContain(
      `${path.sep}registry${path.sep}dist${path.sep}`,
    );
  });
});
