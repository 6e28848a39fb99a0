// The public types catch mistakes: test/types/*.ts compile under --strict,
// and each line marked @ts-expect-error must fail to (an unused directive
// is itself an error, so a wrong program that compiles fails this test).
import { execFileSync } from 'node:child_process';
import path from 'node:path';

test('typed handles, error narrowing and per-transport options type-check as documented', () => {
  const tsc = require.resolve('typescript/bin/tsc');
  const project = path.join(__dirname, 'types', 'tsconfig.json');
  let output = '';
  try {
    execFileSync(process.execPath, [tsc, '-p', project, '--pretty', 'false'], { encoding: 'utf8' });
  } catch (error) {
    output = String((error as { stdout?: string }).stdout ?? error);
  }
  expect(output).toBe('');
  // A full type check of the package's sources: slow on a loaded two-core machine.
}, 120_000);
