import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const pkg = path.resolve(__dirname, '..');

function listFiles(dir: string, base = dir): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory()
        ? listFiles(path.join(dir, e.name), base)
        : [path.relative(base, path.join(dir, e.name))],
    )
    .sort();
}

test('src/generated matches openapi/ and proto/ (run npm run codegen if not)', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'catwalk-codegen-'));
  try {
    execFileSync(process.execPath, [path.join(pkg, 'tools', 'codegen.cjs'), '--out', out], { stdio: 'pipe' });
    const fresh = path.join(out, 'src', 'generated');
    const committed = path.join(pkg, 'src', 'generated');
    const stale = [...new Set([...listFiles(fresh), ...listFiles(committed)])].filter((file) => {
      const a = path.join(fresh, file);
      const b = path.join(committed, file);
      return !fs.existsSync(a) || !fs.existsSync(b) || !fs.readFileSync(a).equals(fs.readFileSync(b));
    });
    if (stale.length > 0) {
      throw new Error(`src/generated is stale (${stale.join(', ')}): run npm run codegen in packages/client`);
    }
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}, 60_000);
