#!/usr/bin/env node
// `npm start`: the main job on embedded defaults. Builds the packages (quietly,
// unless the build fails), then runs the CLI over the bundled examples the way
// a user would.
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const env = { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true' };

function step(title, command, args, { quiet = false } = {}) {
  process.stdout.write(`\n== ${title}\n`);
  const result = spawnSync(command, args, { cwd: root, env, encoding: 'utf8', stdio: quiet ? 'pipe' : 'inherit' });
  if (result.status !== 0) {
    if (quiet) process.stderr.write(`${result.stdout}${result.stderr}`);
    process.stderr.write(`\n${title} failed (exit ${result.status ?? result.signal})\n`);
    process.exit(result.status || 1);
  }
}

const nx = path.join(root, 'node_modules', '.bin', 'nx');
const catwalk = path.join(root, 'packages', 'cli', 'bin', 'catwalk.js');

step('build', nx, ['run-many', '-t', 'build', '--output-style=static'], { quiet: true });
step('validate the example specs', process.execPath, [catwalk, 'validate', 'examples/models']);
step('resolve them and write their TF Serving configs to out/', process.execPath, [
  catwalk,
  'render',
  'examples/models',
  '--out',
  'out',
]);
