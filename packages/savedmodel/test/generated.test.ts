// src/generated/ is what `npm run codegen` makes from proto/: regenerate into a
// temporary folder with the same script and compare file by file.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const pkg = path.resolve(__dirname, '..');

function files(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, entry.name);
      if (entry.isDirectory()) walk(full);
      else out[path.relative(dir, full)] = fs.readFileSync(full, 'utf8');
    }
  };
  walk(dir);
  return out;
}

test('src/generated is up to date with proto/ (run npm run codegen in packages/savedmodel if not)', () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'savedmodel-codegen-check-'));
  try {
    execFileSync(process.execPath, [path.join(pkg, 'tools/codegen.cjs'), '--out', work], { stdio: 'pipe' });
    expect(files(path.join(work, 'src/generated'))).toEqual(files(path.join(pkg, 'src/generated')));
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}, 120_000);
