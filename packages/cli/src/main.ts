// `catwalk`: argument parsing and dispatch only; the work is in the packages.

import { Command, CommanderError } from '@commander-js/extra-typings';
import { explainCommand } from './commands/explain';
import { generateCommand } from './commands/generate';
import { initCommand } from './commands/init';
import { renderCommand } from './commands/render';
import { schemaCommand } from './commands/schema';
import { validateCommand } from './commands/validate';
import { exitCodes, type Io, UserError } from './io';

export type { Io } from './io';
export { exitCodes } from './io';

const { version } = require('../package.json') as { version: string };

function program(io: Io, setExit: (code: number) => void): Command {
  const cli = new Command('catwalk')
    .description('Serve TensorFlow SavedModels on Kubernetes from one spec file per model.')
    .version(version, '-v, --version', 'print the version')
    .option('--no-color', 'plain output without colours')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    })
    .addHelpText(
      'after',
      `
Exit codes: 0 success, 1 invalid specs or files, 2 wrong usage.

Examples:
  catwalk init pricing --team marketplace
  catwalk validate examples/models
  catwalk explain examples/models/pricing.yaml
  catwalk render examples/models --out out
  catwalk generate examples/models --out charts`,
    );

  const examples = (...lines: string[]) => `\nExamples:\n${lines.map((l) => `  ${l}`).join('\n')}`;

  cli
    .command('init')
    .description('write a commented spec for a new model (<name>.yaml), refusing to overwrite')
    .argument('<name>', 'model name: lowercase letters, digits and -, starting with a letter')
    .option('--team <team>', 'owning team', 'my-team')
    .option('--source <uri>', 'S3 folder of the model (default s3://catwalk-models/<team>/<name>)')
    .option('--dir <dir>', 'folder to write the spec into', '.')
    .option('--force', 'replace an existing file')
    .addHelpText(
      'after',
      examples(
        'catwalk init pricing --team marketplace',
        'catwalk init fraud-check --team payments --source s3://models/payments/fraud-check --dir specs',
      ),
    )
    .action(async (name, options) => setExit(await initCommand(name, options, io)));

  cli
    .command('validate')
    .description('check spec files and folders; every problem is reported with its field, line and fix')
    .argument('<paths...>', 'spec files (.yaml, .yml, .json) or folders holding them')
    .option('--json', 'machine-readable report on stdout')
    .option('--strict', 'fail on warnings too')
    .addHelpText(
      'after',
      examples(
        'catwalk validate examples/models',
        'catwalk validate pricing.yaml --json',
        'catwalk validate specs/ --strict',
      ),
    )
    .action(async (paths, options) => setExit(await validateCommand(paths, options, io)));

  cli
    .command('explain')
    .description(
      'print the resolved model (every default filled in) and the TF Serving files derived from it',
    )
    .argument('<file>', 'one spec file')
    .option('--json', 'machine-readable output')
    .addHelpText(
      'after',
      examples(
        'catwalk explain examples/models/pricing.yaml',
        'catwalk explain pricing.yaml --json | jq .args',
      ),
    )
    .action(async (file, options) => setExit(await explainCommand(file, options, io)));

  cli
    .command('render')
    .description("validate specs and write each model's TF Serving configs to <out>/<model>/")
    .argument('<paths...>', 'spec files or folders')
    .option('-o, --out <dir>', 'output folder', 'out')
    .addHelpText('after', examples('catwalk render examples/models --out out'))
    .action(async (paths, options) => setExit(await renderCommand(paths, options, io)));

  cli
    .command('generate')
    .description(
      'write a self-contained Helm chart per model to <out>/<model>/ (Chart.yaml, values, templates, IAM policies)',
    )
    .argument('<paths...>', 'spec files or folders')
    .option('-o, --out <dir>', 'output folder', 'charts')
    .option(
      '--check',
      'write nothing; exit 1 with a diff when the charts in <out> are not what the specs generate',
    )
    .addHelpText(
      'after',
      examples(
        'catwalk generate examples/models --out charts',
        'catwalk generate examples/models --out charts --check',
      ),
    )
    .action(async (paths, options) => setExit(await generateCommand(paths, options, io)));

  cli
    .command('schema')
    .description('print the JSON Schema of the model spec, for editors and other tools')
    .option('-o, --out <file>', 'write it to a file instead of stdout')
    .addHelpText(
      'after',
      examples('catwalk schema > model.schema.json', 'catwalk schema --out .vscode/catwalk.schema.json'),
    )
    .action(async (options) => setExit(await schemaCommand(options, io)));

  return cli;
}

/** Runs the CLI with `argv` (without node and script) and returns the exit code. Never throws for user errors. */
export async function run(argv: readonly string[], io: Io): Promise<number> {
  let exitCode: number = exitCodes.ok;
  const colorOff = argv.includes('--no-color');
  const effectiveIo = colorOff ? { ...io, color: false } : io;
  const cli = program(effectiveIo, (code) => {
    exitCode = code;
  });
  try {
    await cli.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version end parsing through the same path as usage errors.
      if (
        error.code === 'commander.helpDisplayed' ||
        error.code === 'commander.version' ||
        error.code === 'commander.help'
      ) {
        return exitCodes.ok;
      }
      if (error.code === 'commander.executeSubCommandAsync') return exitCodes.ok;
      io.stderr.write(`run 'catwalk --help' for usage\n`);
      return exitCodes.usage;
    }
    if (error instanceof UserError) {
      io.stderr.write(`catwalk: ${error.message}\n`);
      return error.exitCode;
    }
    throw error;
  }
}

/** Entry point of bin/catwalk.js. */
export function runFromProcess(): void {
  const color = process.stdout.isTTY === true && !('NO_COLOR' in process.env) && process.env.TERM !== 'dumb';
  const io: Io = {
    stdout: process.stdout,
    stderr: process.stderr,
    cwd: process.cwd(),
    color: color || 'FORCE_COLOR' in process.env,
  };
  run(process.argv.slice(2), io).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      // Only bugs reach this point: keep the stack, it is what a bug report needs.
      process.stderr.write(
        `catwalk: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exitCode = 70;
    },
  );
}
