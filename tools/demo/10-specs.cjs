// Validate the example specs, then resolve them and write their TF Serving
// configuration to out/, as a user would with the CLI.
const { execFileSync } = require('node:child_process');
const path = require('node:path');

const root = path.resolve(__dirname, '../..');
const catwalk = path.join(root, 'packages', 'cli', 'bin', 'catwalk.js');
function cli(...args) {
  try {
    execFileSync(process.execPath, [catwalk, ...args], { cwd: root, stdio: 'inherit' });
  } catch (error) {
    process.exit(error.status || 1); // the CLI has already said what went wrong
  }
}

cli('validate', 'examples/models');
process.stdout.write('\n');
cli('render', 'examples/models', '--out', 'out');
