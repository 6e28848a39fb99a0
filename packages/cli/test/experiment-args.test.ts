// `catwalk experiment`: wrong arguments are refused before anything is read or
// changed, each with the option named and what to write instead. The
// lifecycle itself runs against a real control plane in
// packages/deploy/test/cluster/experiment.test.ts.
import { catwalk } from './run';

describe('catwalk experiment arguments', () => {
  it.each([
    [['experiment', 'start', 'pricing.yaml'], /--canary <version> is required/],
    [['experiment', 'start', 'pricing.yaml', '--canary', 'four'], /--canary 'four' is not a version number/],
    [
      ['experiment', 'start', 'pricing.yaml', '--canary', '4', '--weight', '150'],
      /--weight '150': give a whole percent from 0 to 100/,
    ],
    [
      ['experiment', 'start', 'pricing.yaml', '--canary', '4', '--steps', '5,ten'],
      /--steps '5,ten': give whole percents separated by commas, e.g. --steps 5,10,25,50/,
    ],
    [
      ['experiment', 'start', 'pricing.yaml', '--canary', '4', '--steps', '5,10', '--weight', '10'],
      /--weight and --steps both set the canary weight/,
    ],
    [
      ['experiment', 'start', 'pricing.yaml', '--canary', '4', '--step-interval', 'soon'],
      /--step-interval 'soon': give seconds or a duration such as 500ms, 90s, 10m or 1h/,
    ],
    [
      ['experiment', 'start', 'pricing.yaml', '--canary', '4', '--analysis', 'datadog'],
      /--analysis 'datadog': write prometheus=<url of the Prometheus server>/,
    ],
    [
      ['experiment', 'promote', 'pricing.yaml', '--log-format', 'yaml'],
      /--log-format 'yaml': use json or text/,
    ],
    [['experiment', 'abort', 'pricing.yaml', '--log-format', 'xml'], /--log-format 'xml': use json or text/],
    [
      ['experiment', 'set-weight', 'pricing.yaml', '50', '--switch-seconds', 'soon'],
      /--switch-seconds 'soon': give the whole seconds \(0 or more\)/,
    ],
    [
      ['experiment', 'abort', 'pricing.yaml', '--switch-seconds', '-5'],
      /--switch-seconds '-5': give the whole seconds \(0 or more\)/,
    ],
    [
      ['experiment', 'set-weight', 'pricing.yaml', 'half'],
      /percent 'half': give a whole percent from 0 to 100/,
    ],
  ])('%j is refused with a usage error', async (args, message) => {
    const r = await catwalk(args);
    expect(r.stderr).toMatch(message);
    expect(r.code).toBe(2);
  });

  it('a model named by its S3 folder is refused: experiments need the spec', async () => {
    const r = await catwalk(['experiment', 'status', 's3://models/team/pricing']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("'s3://models/team/pricing' is not a spec file (.yaml, .yml, .json)");
  });

  it('offers --switch-seconds on the commands that move traffic, and --keep-capacity on abort', async () => {
    for (const sub of ['start', 'set-weight', 'promote', 'abort']) {
      const r = await catwalk(['experiment', sub, '--help']);
      expect(r.stdout).toMatch(/--switch-seconds <n>[\s\S]*\(default: "30"\)/);
    }
    expect((await catwalk(['experiment', 'abort', '--help'])).stdout).toContain('--keep-capacity');
    expect((await catwalk(['experiment', 'status', '--help'])).stdout).not.toContain('--switch-seconds');
  });

  it('lists its subcommands in its help', async () => {
    const r = await catwalk(['experiment', '--help']);
    for (const sub of ['start', 'status', 'set-weight', 'promote', 'abort']) expect(r.stdout).toContain(sub);
  });
});
