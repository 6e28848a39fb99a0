// `catwalk`: argument parsing and dispatch only; the work is in the packages.

import {
  Command,
  CommanderError,
  InvalidArgumentError,
  Option,
  type OptionValues,
} from '@commander-js/extra-typings';
import { exitCodes, type Io, UserError } from './io';

/**
 * Each command's module, loaded when the command runs: `catwalk --version`,
 * `--help` and `validate` do not pay for the S3 SDK, the chart generator or
 * the Kubernetes client (together some 400 ms of start-up).
 */
const commands = {
  codegen: () => require('./commands/codegen') as typeof import('./commands/codegen'),
  deploy: () => require('./commands/deploy') as typeof import('./commands/deploy'),
  dev: () => require('./commands/dev') as typeof import('./commands/dev'),
  experiment: () => require('./commands/experiment') as typeof import('./commands/experiment'),
  explain: () => require('./commands/explain') as typeof import('./commands/explain'),
  generate: () => require('./commands/generate') as typeof import('./commands/generate'),
  init: () => require('./commands/init') as typeof import('./commands/init'),
  predict: () => require('./commands/predict') as typeof import('./commands/predict'),
  prune: () => require('./commands/prune') as typeof import('./commands/prune'),
  push: () => require('./commands/push') as typeof import('./commands/push'),
  release: () => require('./commands/release') as typeof import('./commands/release'),
  render: () => require('./commands/render') as typeof import('./commands/render'),
  rollback: () => require('./commands/rollback') as typeof import('./commands/rollback'),
  schema: () => require('./commands/schema') as typeof import('./commands/schema'),
  status: () => require('./commands/status') as typeof import('./commands/status'),
  sync: () => require('./commands/sync') as typeof import('./commands/sync'),
  validate: () => require('./commands/validate') as typeof import('./commands/validate'),
  versions: () => require('./commands/versions') as typeof import('./commands/versions'),
};

export type { Io } from './io';
export { exitCodes } from './io';

const { version } = require('../package.json') as { version: string };

/** Where the bucket is, for every command that talks to S3. */
const endpointOption = () =>
  new Option(
    '--endpoint <url>',
    "S3-compatible endpoint (default: the spec's source.endpoint, $AWS_ENDPOINT_URL_S3, AWS)",
  ).argParser(parseEndpoint);

/** An http(s) URL, refused up front: the SDK would otherwise fail deep inside with a stack trace. */
function parseEndpoint(text: string): string {
  const url = URL.canParse(text) ? new URL(text) : undefined;
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || !url.hostname) {
    throw new InvalidArgumentError(
      `--endpoint '${text}' is not a URL: write it as http(s)://host[:port], e.g. http://127.0.0.1:4568 or https://s3.eu-west-1.amazonaws.com`,
    );
  }
  return text;
}
/** The experiment commands that move traffic: how long the giving track stays held after the weights move. */
const switchSecondsOption = () =>
  new Option(
    '--switch-seconds <n>',
    'seconds the track giving traffic away keeps its pods after the new weights are applied, while the load balancer switches',
  ).default('30');
const regionOption = () =>
  new Option('--region <region>', "S3 region (default: the spec's source.region, $AWS_REGION, us-east-1)");

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
  catwalk generate examples/models --out charts
  catwalk dev s3
  catwalk deploy examples/models/pricing.yaml --namespace models
  catwalk status pricing --namespace models`,
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
    .option('--peak-rps <n>', 'expected peak requests per second (with --replica-rps: replica counts follow)')
    .option('--replica-rps <n>', 'requests per second one pod sustains, from a load test')
    .addHelpText(
      'after',
      examples(
        'catwalk init pricing --team marketplace',
        'catwalk init pricing --team marketplace --peak-rps 800 --replica-rps 100',
        'catwalk init fraud-check --team payments --source s3://models/payments/fraud-check --dir specs',
      ),
    )
    .action(async (name, options) => setExit(await commands.init().initCommand(name, options, io)));

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
    .action(async (paths, options) => setExit(await commands.validate().validateCommand(paths, options, io)));

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
    .action(async (file, options) => setExit(await commands.explain().explainCommand(file, options, io)));

  cli
    .command('render')
    .description("validate specs and write each model's TF Serving configs to <out>/<model>/")
    .argument('<paths...>', 'spec files or folders')
    .option('-o, --out <dir>', 'output folder', 'out')
    .addHelpText('after', examples('catwalk render examples/models --out out'))
    .action(async (paths, options) => setExit(await commands.render().renderCommand(paths, options, io)));

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
    .option(
      '--sync-image <ref>',
      'sidecar image of every chart, e.g. a mirror in ECR (default ghcr.io/catwalk-dev/model-sync:<version>)',
    )
    .option(
      '--environment <name>',
      'environment: Datadog env tag and default load balancer group catwalk-<name>',
    )
    .option('--rules-quota <n>', "the account's listener-rules-per-ALB quota, when raised above 100")
    .addHelpText(
      'after',
      examples(
        'catwalk generate examples/models --out charts',
        'catwalk generate examples/models --out charts --check',
        'catwalk generate examples/models --out charts --environment prod \\',
        '    --sync-image 123456789012.dkr.ecr.eu-west-1.amazonaws.com/catwalk/model-sync:0.1.0',
      ),
    )
    .action(async (paths, options) => setExit(await commands.generate().generateCommand(paths, options, io)));

  cli
    .command('schema')
    .description('print the JSON Schema of the model spec, for editors and other tools')
    .option('-o, --out <file>', 'write it to a file instead of stdout')
    .addHelpText(
      'after',
      examples('catwalk schema > model.schema.json', 'catwalk schema --out .vscode/catwalk.schema.json'),
    )
    .action(async (options) => setExit(await commands.schema().schemaCommand(options, io)));

  // Model registry on S3 and the sync sidecar.
  cli
    .command('push')
    .description(
      'upload a SavedModel export as a new immutable version (manifest written last; resumes if interrupted)',
    )
    .argument(
      '<export-dir>',
      'the export (saved_model.pb at its root) or a folder of numeric version folders',
    )
    .requiredOption(
      '--model <spec-or-uri>',
      'the model: its spec file, or its s3://bucket/prefix/<model> folder',
    )
    .option(
      '--version <n>',
      "version number to write (default: the export folder's own number, like 00000123, when free, else highest + 1); never reuses one",
    )
    .option('--force', 'push even when a complete version holds exactly these files')
    .option(
      '--warmup <requests.json>',
      'requests TF Serving replays on load (a JSON list of inputs as predict takes them), written to assets.extra/tf_serving_warmup_requests',
    )
    .option(
      '--warmup-signature <name>',
      'the signature the --warmup requests call (default: serving_default)',
    )
    .option('--concurrency <n>', 'files uploaded at once', '8')
    .option('--json', 'machine-readable result on stdout, no progress')
    .addOption(endpointOption())
    .addOption(regionOption())
    .addHelpText(
      'after',
      examples(
        'catwalk push export/ --model examples/models/pricing.yaml',
        'catwalk push export/3 --model s3://catwalk-models/marketplace/pricing --version 3',
        'catwalk push exports/ --model pricing.yaml --json',
        'catwalk push export/ --model pricing.yaml --warmup warmup-requests.json',
      ),
    )
    .action(async (dir, options) => setExit(await commands.push().pushCommand(dir, options, io)));

  cli
    .command('versions')
    .description('list versions with state (complete, incomplete, corrupt), size, push time and labels')
    .argument('<model>', 'spec file or s3:// model folder')
    .option('--verify', 'read every complete version back and check its sha256 (exit 1 if one fails)')
    .option('--signatures', "show each version's signatures (inputs and outputs: name, dtype, shape)")
    .option('--json', 'machine-readable output')
    .addOption(endpointOption())
    .addOption(regionOption())
    .addHelpText(
      'after',
      examples(
        'catwalk versions examples/models/pricing.yaml',
        'catwalk versions s3://models/team/pricing --json',
        'catwalk versions examples/models/pricing.yaml --signatures',
      ),
    )
    .action(async (model, options) => setExit(await commands.versions().versionsCommand(model, options, io)));

  cli
    .command('release')
    .description('choose the served versions and move labels (compare-and-swap on release.json)')
    .argument('<model>', 'spec file or s3:// model folder')
    .option(
      '--serve <versions>',
      'versions to serve, comma-separated (default: current ones plus labelled ones)',
    )
    .option(
      '--label <label=version>',
      'point a label at a version; label= removes it (repeatable)',
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .option('--if-generation <n>', 'fail unless release.json is still at this generation')
    .option('--no-verify', 'do not read back and check the sha256 of versions it starts serving')
    .option(
      '--allow-breaking',
      "serve versions whose signatures break the stable version's callers (removed or renamed inputs and outputs, dtype or shape changes)",
    )
    .option('--json', 'print the new release.json')
    .addOption(endpointOption())
    .addOption(regionOption())
    .addHelpText(
      'after',
      examples(
        'catwalk release pricing.yaml --serve 3,4 --label stable=3 --label canary=4',
        'catwalk release s3://models/team/pricing --label stable=4 --label canary=',
      ),
    )
    .action(async (model, options) => setExit(await commands.release().releaseCommand(model, options, io)));

  cli
    .command('rollback')
    .description('move stable back (to the previous stable, or --to) and stop serving the bad version')
    .argument('<model>', 'spec file or s3:// model folder')
    .option('--to <version>', 'the version stable goes back to')
    .option('--if-generation <n>', 'fail unless release.json is still at this generation')
    .option('--no-verify', 'do not read back and check the sha256 of versions it starts serving')
    .option('--json', 'print the new release.json')
    .addOption(endpointOption())
    .addOption(regionOption())
    .addHelpText(
      'after',
      examples('catwalk rollback pricing.yaml', 'catwalk rollback s3://models/team/pricing --to 3'),
    )
    .action(async (model, options) => setExit(await commands.rollback().rollbackCommand(model, options, io)));

  cli
    .command('prune')
    .description('delete old versions, keeping the newest N complete ones and every served or labelled one')
    .argument('<model>', 'spec file or s3:// model folder')
    .requiredOption('--keep <n>', 'complete versions to keep besides the served and labelled ones')
    .option('--dry-run', 'only say what would be deleted')
    .option('--json', 'machine-readable output')
    .addOption(endpointOption())
    .addOption(regionOption())
    .addHelpText(
      'after',
      examples(
        'catwalk prune pricing.yaml --keep 3 --dry-run',
        'catwalk prune s3://models/team/pricing --keep 5',
      ),
    )
    .action(async (model, options) => setExit(await commands.prune().pruneCommand(model, options, io)));

  cli
    .command('sync')
    .description(
      'the sidecar: keep a folder in line with the release, verified versions only, and own models.config',
    )
    .requiredOption('--source <uri>', "s3://bucket/prefix/<model> (or the model's spec file)")
    .requiredOption('--dest <dir>', 'the folder TF Serving watches for this model, e.g. /models/<model>')
    .option('--interval <duration>', 'time between polls (10s, 500ms, 1m)', '10s')
    .option('--once', 'exit 0 after the first complete sync, non-zero if none is possible (init container)')
    .option(
      '--track <which>',
      'all: every served version; stable|canary: only what that label points to',
      'all',
    )
    .option('--config-template <file>', "the generated models.config (from the chart's ConfigMap)")
    .option('--config-out <file>', 'the live models.config TF Serving reads')
    .option(
      '--port <port>',
      '/healthz, /readyz, /ready/serving, /status and /metrics (default 9102; none with --once)',
    )
    .option(
      '--serving-url <url>',
      "TF Serving's model status URL (http://127.0.0.1:8501/v1/models/<model>): /ready/serving is 200 only while a version is AVAILABLE",
    )
    .option(
      '--serving-poll-seconds <n>',
      "TF Serving's --model_config_file_poll_wait_seconds: a dropped version's folder stays that long plus a margin (default: the spec's pollSeconds, else --interval)",
    )
    .option('--poll-deadline <duration>', 'a poll still running after this is abandoned and counted', '10m')
    .option(
      '--stale-after <duration>',
      '/readyz turns 503 once the last good sync is older than this (default: 5m or three polls, whichever is longer)',
    )
    .option('--log-level <level>', 'pino log level', 'info')
    .option('--log-format <format>', 'json (the default when stdout is not a terminal) or text')
    .addOption(endpointOption())
    .addOption(regionOption())
    .addHelpText(
      'after',
      examples(
        'catwalk sync --source s3://models/team/pricing --dest /models/pricing --once',
        'catwalk sync --source s3://models/team/pricing --dest /models/pricing --interval 10s \\',
        '    --config-template /etc/catwalk/models.config --config-out /models/models.config',
        'catwalk sync --source s3://models/team/pricing --dest /models/pricing --track canary',
      ),
    )
    .action(async (options) => setExit(await commands.sync().syncCommand(options, io)));

  // Local stand-ins for trying Catwalk on one machine.
  const dev = cli.command('dev').description('local stand-ins for trying Catwalk on one machine');
  dev
    .command('s3')
    .description(
      'run a local S3 (the embedded s3rver, with conditional writes) until Ctrl-C, and print the variables to export',
    )
    .option('--dir <dir>', 'folder holding the buckets and objects; kept between runs', '.catwalk/s3')
    .option('--port <port>', 'port on 127.0.0.1 (0: any free port; a taken default gives a free one)', '4568')
    .option(
      '--env-file <file>',
      'also write the export lines here, to source; removed on stop',
      '.catwalk/s3.env',
    )
    .option(
      '--bucket <name>',
      'bucket to create if missing (repeatable; default catwalk-models, the bucket catwalk init uses)',
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .addHelpText(
      'after',
      examples('catwalk dev s3', 'catwalk dev s3 --dir /tmp/s3 --port 9000 --bucket ml-models'),
    )
    .action(async (options, command) =>
      setExit(
        await commands
          .dev()
          .devS3Command(
            { ...options, portIsDefault: command.getOptionValueSource('port') === 'default' },
            io,
          ),
      ),
    );

  // Kubernetes: the first deployment without a platform engineer, and what is running.
  cli
    .command('deploy')
    .description(
      "install or upgrade each model's chart (helm upgrade --install, rolled back on failure) and follow the rollout until Ready",
    )
    .argument('<specs...>', 'spec files or folders')
    .option('--chart <dir>', 'install this chart folder instead of generating one (one spec only)')
    .option('--context <name>', 'kubeconfig context (default: the current one)')
    .option('-n, --namespace <ns>', "namespace (default: the context's, else default)")
    .option('--kubeconfig <file>', 'kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)')
    .option(
      '-f, --values <file>',
      'extra helm values file (repeatable)',
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .option('--timeout <duration>', 'limit for the whole deploy, rollout included (90s, 10m)', '5m')
    .option('--dry-run', 'change nothing; the API server says what would change, object by object')
    .option('--json', 'machine-readable result on stdout, no progress')
    .option(
      '--log-format <format>',
      'text (the default) or json: a JSON line per model and track as the rollout moves',
    )
    .addHelpText(
      'after',
      examples(
        'catwalk deploy examples/models/pricing.yaml --namespace models',
        'catwalk deploy specs/ --context prod --timeout 10m',
        'catwalk deploy pricing.yaml --values overrides.yaml --dry-run',
        'catwalk deploy pricing.yaml --chart charts/pricing',
      ),
    )
    .action(async (specs, options) => setExit(await commands.deploy().deployCommand(specs, options, io)));

  cli
    .command('status')
    .description(
      "per model: Deployments per zone, HPA, PDB, Ingress and URLs, the registry's release and each pod's sync sidecar and TF Serving",
    )
    .argument('[models...]', 'spec files, folders or model names (default: every model in the namespace)')
    .option('--context <name>', 'kubeconfig context (default: the current one)')
    .option('-n, --namespace <ns>', "namespace (default: the context's, else default)")
    .option('--kubeconfig <file>', 'kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)')
    .option('--json', 'machine-readable output')
    .addOption(endpointOption())
    .addOption(regionOption())
    .addHelpText(
      'after',
      examples(
        'catwalk status examples/models/pricing.yaml',
        'catwalk status pricing fraud-check --namespace models',
        'catwalk status --json',
      ),
    )
    .action(async (models, options) => setExit(await commands.status().statusCommand(models, options, io)));

  const experiment = cli
    .command('experiment')
    .description(
      'an A/B test of a new version against stable: start, status, set-weight, promote, abort (state in release.json, weights in the chart)',
    );
  const clusterOptions = <A extends unknown[], O extends OptionValues, G extends OptionValues>(
    command: Command<A, O, G>,
  ) =>
    command
      .option('--context <name>', 'kubeconfig context (default: the current one)')
      .option('-n, --namespace <ns>', "namespace (default: the context's, else default)")
      .option('--kubeconfig <file>', 'kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)')
      .option(
        '-f, --values <file>',
        'extra helm values file, as given to catwalk deploy (repeatable)',
        (v: string, acc: string[]) => [...acc, v],
        [] as string[],
      )
      .option(
        '--timeout <duration>',
        'longest wait for pods to serve a version, and for each helm upgrade',
        '10m',
      )
      .option('--json', 'machine-readable result on stdout')
      .addOption(endpointOption())
      .addOption(regionOption());
  clusterOptions(
    experiment
      .command('start')
      .description(
        'label the version canary, create the canary at weight 0, wait until its pods serve it, then move traffic (step by step with --steps)',
      )
      .argument('<spec>', 'spec file of a deployed model'),
  )
    .option('--canary <version>', 'the version to test against stable')
    .option('--weight <percent>', 'fixed canary weight (default 10)')
    .option('--steps <percents>', 'weights to walk, one per interval, e.g. 5,10,25,50')
    .option('--step-interval <duration>', 'time at each step before the next (30s, 10m)', '10m')
    .option('--analysis <source>', 'compare the tracks before each step: prometheus=<url>')
    .option('--auto-promote', 'promote when the last step passes (default: stop and wait for promote)')
    .option('--allow-breaking', 'start even if the canary changes the stable signatures incompatibly')
    .addOption(switchSecondsOption())
    .option('--log-format <format>', 'json (the default when stdout is not a terminal) or text')
    .addHelpText(
      'after',
      examples(
        'catwalk experiment start pricing.yaml --canary 4 --weight 10',
        'catwalk experiment start pricing.yaml --canary 4 --steps 5,10,25,50 --step-interval 10m \\',
        '    --analysis prometheus=http://prometheus.monitoring:9090',
      ),
    )
    .action(async (spec, options) =>
      setExit(await commands.experiment().experimentStartCommand(spec, options, io)),
    );
  clusterOptions(
    experiment
      .command('status')
      .description('weights now and planned, both tracks and their pods, the analysis so far, the history')
      .argument('<spec>', 'spec file'),
  ).action(async (spec, options) =>
    setExit(await commands.experiment().experimentStatusCommand(spec, options, io)),
  );
  clusterOptions(
    experiment
      .command('set-weight')
      .description("set the canary's percent of unaddressed requests (replaces the rest of the plan)")
      .argument('<spec>', 'spec file')
      .argument('<percent>', '0 to 100'),
  )
    .addOption(switchSecondsOption())
    .option('--log-format <format>', 'json (the default when stdout is not a terminal) or text')
    .action(async (spec, percent, options) =>
      setExit(await commands.experiment().experimentSetWeightCommand(spec, percent, options, io)),
    );
  clusterOptions(
    experiment
      .command('promote')
      .description(
        'make the canary version stable: main pods load it, traffic returns to them, then the canary goes',
      )
      .argument('<spec>', 'spec file'),
  )
    .addOption(switchSecondsOption())
    .option('--log-format <format>', 'json (the default when stdout is not a terminal) or text')
    .action(async (spec, options) =>
      setExit(await commands.experiment().experimentPromoteCommand(spec, options, io)),
    );
  clusterOptions(
    experiment
      .command('abort')
      .description(
        'end the test: canary weight 0 at once (main grows meanwhile), then the canary goes and its label is dropped',
      )
      .argument('<spec>', 'spec file'),
  )
    .option(
      '--keep-capacity',
      'for a healthy canary: grow main and have it Ready before the weight returns to it (as promote does)',
    )
    .addOption(switchSecondsOption())
    .option('--log-format <format>', 'json (the default when stdout is not a terminal) or text')
    .action(async (spec, options) =>
      setExit(await commands.experiment().experimentAbortCommand(spec, options, io)),
    );

  cli
    .command('codegen')
    .description("write a TypeScript module of typed handles for a model's signatures (@catwalk/client)")
    .argument(
      '<source>',
      'spec file, s3:// model or version folder, SavedModel export folder, or TF Serving: http(s)://host:8501/v1/models/<name>',
    )
    .option('--out <file>', 'write the module here (default: standard output)')
    .option('--check', 'exit 1 with a diff when --out is not what codegen would write (for CI)')
    .option('--model <name>', 'model name on the server (default: from the URL or the folder name)')
    .option('--version <n>', 'version to read (default: the newest folder, or what the server serves)')
    .option('--label <label>', 'version label to read (TF Serving or the registry)')
    .addOption(endpointOption())
    .addOption(regionOption())
    .addHelpText(
      'after',
      examples(
        'catwalk codegen exports/pricing --out src/models/pricing.ts',
        'catwalk codegen s3://catwalk-models/marketplace/pricing/3 --out src/models/pricing.ts',
        'catwalk codegen examples/models/pricing.yaml --label stable --out src/models/pricing.ts --check',
        'catwalk codegen exports/pricing/3 --model pricing --out src/models/pricing.ts --check',
        'catwalk codegen http://localhost:8501/v1/models/pricing/labels/stable --out src/models/pricing.ts',
      ),
    )
    .action(async (source, options) => setExit(await commands.codegen().codegenCommand(source, options, io)));

  cli
    .command('predict')
    .description(
      'call a model through the SDK and print its outputs (a table, or --json) with the time taken',
    )
    .argument(
      '<model>',
      'spec file (its endpoint.host) or TF Serving URL: http(s)://host:8501/v1/models/<name>',
    )
    .argument('[stdin]', '- to read the inputs from standard input')
    .option('--input <json>', 'inputs by name as JSON, e.g. \'{"x": [[1.0], [2.0]]}\'')
    .option('--input-file <file>', 'a JSON file of inputs by name (- for standard input)')
    .option('--model <name>', "the model's name, when the URL does not end in /v1/models/<name>")
    .option('--version <n>', 'call this version')
    .option('--label <label>', 'call the version with this label, e.g. canary')
    .option('--signature <name>', 'signature to call', 'serving_default')
    .option('--transport <rest|grpc>', 'REST (port 8501) or gRPC', 'rest')
    .option('--grpc-address <host:port>', "TF Serving's gRPC address (default: the URL's host, port 8500)")
    .option('--timeout <ms>', 'deadline for the whole call, retries included', '30000')
    .option('--json', 'machine-readable output')
    .addHelpText(
      'after',
      examples(
        `catwalk predict http://localhost:8501/v1/models/pricing --input '{"x": [[1.0], [2.0]]}'`,
        'catwalk predict examples/models/pricing.yaml --label canary --input-file request.json --json',
        'cat request.json | catwalk predict http://localhost:8501/v1/models/pricing --transport grpc -',
      ),
    )
    .action(async (model, stdin, options) =>
      setExit(await commands.predict().predictCommand(model, stdin, options, io)),
    );

  // `push --version N` names a model version, so program options (--version, --no-color) are read before
  // the subcommand only; every subcommand takes --no-color itself, so it still works anywhere.
  cli.enablePositionalOptions();
  for (const command of cli.commands) {
    if (!command.options.some((o) => o.long === '--no-color'))
      command.option('--no-color', 'plain output without colours');
  }

  return cli;
}

/** The --help that answers a usage error: the deepest (sub)command `argv` names. */
function helpCommandFor(cli: Command, argv: readonly string[]): string {
  const names = ['catwalk'];
  let command: Command = cli;
  for (const arg of argv) {
    if (arg.startsWith('-')) continue;
    const sub = command.commands.find((c) => c.name() === arg || c.aliases().includes(arg));
    if (!sub) break;
    names.push(sub.name());
    command = sub as Command;
  }
  return `${names.join(' ')} --help`;
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
      io.stderr.write(`run '${helpCommandFor(cli, argv)}' for usage\n`);
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
  // `catwalk schema | head` closes the pipe early: that is the reader's choice, not an error.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw error;
    });
  }
  const color = process.stdout.isTTY === true && !('NO_COLOR' in process.env) && process.env.TERM !== 'dumb';
  const io: Io = {
    stdout: process.stdout,
    stderr: process.stderr,
    cwd: process.cwd(),
    color: color || 'FORCE_COLOR' in process.env,
    stdin: process.stdin,
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
