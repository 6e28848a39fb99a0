#!/usr/bin/env node
// `npm start`: the main job on embedded defaults. Builds the packages (quietly,
// unless the build fails), then runs each step in tools/demo/ in name order.
// A step is a script run with node from the repository root; it prints what it
// does and exits non-zero on failure.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const env = { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true' };

function run(title, command, args, { quiet = false } = {}) {
  process.stdout.write(`\n== ${title}\n`);
  const result = spawnSync(command, args, { cwd: root, env, encoding: 'utf8', stdio: quiet ? 'pipe' : 'inherit' });
  if (result.status !== 0) {
    if (quiet) process.stderr.write(`${result.stdout}${result.stderr}`);
    process.stderr.write(`\n${title} failed (exit ${result.status ?? result.signal})\n`);
    process.exit(result.status || 1);
  }
}

run('build', path.join(root, 'node_modules', '.bin', 'nx'), ['run-many', '-t', 'build', '--output-style=static'], {
  quiet: true,
});
const demoDir = path.join(__dirname, 'demo');
for (const step of fs.readdirSync(demoDir).filter((f) => f.endsWith('.cjs')).sort()) {
  const title = step.replace(/^\d+-/, '').replace(/\.cjs$/, '').replace(/-/g, ' ');
  run(title, process.execPath, [path.join(demoDir, step)]);
}
