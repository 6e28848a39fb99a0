// Every duration flag of the CLI (experiment's --step-interval and --timeout,
// deploy's --timeout, sync's --interval, --poll-deadline and --stale-after)
// reads the same forms through one parser: 500ms, 90s, 10m, 1h or plain
// seconds; anything else is refused before any work with the flag named.
import { catwalk } from './run';

describe('duration flags', () => {
  it.each([
    [
      ['experiment', 'start', 'pricing.yaml', '--canary', '4', '--step-interval', 'soon'],
      '--step-interval',
      'soon',
    ],
    [['experiment', 'abort', 'pricing.yaml', '--timeout', '5 minutes'], '--timeout', '5 minutes'],
    [['deploy', 'pricing.yaml', '--timeout', 'later'], '--timeout', 'later'],
    [['sync', '--source', 'pricing.yaml', '--dest', '/tmp/none', '--interval', '1d'], '--interval', '1d'],
    [
      ['experiment', 'start', 'pricing.yaml', '--canary', '4', '--step-interval', '0'],
      '--step-interval',
      '0',
    ],
  ])('%j is refused naming %s and the forms it takes', async (args, flag, value) => {
    const r = await catwalk(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      `${flag} '${value}': give seconds or a duration such as 500ms, 90s, 10m or 1h (more than 0)`,
    );
  });
});
