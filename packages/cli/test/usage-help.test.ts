// A usage error names the help that answers it: the subcommand's own --help,
// which lists its arguments, options and examples.
import { catwalk } from './run';

describe('usage errors', () => {
  it.each([
    [['validate'], 'catwalk validate --help'],
    [['explain', 'a.yaml', 'b.yaml'], 'catwalk explain --help'],
    [['push', 'export'], 'catwalk push --help'],
    [['release', 'pricing.yaml', '--nope'], 'catwalk release --help'],
    [['dev', 's3', '--port'], 'catwalk dev s3 --help'],
    [['--no-color', 'init'], 'catwalk init --help'],
    [['frobnicate'], 'catwalk --help'],
  ])('%j points to %s', async (args, help) => {
    const r = await catwalk(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`run '${help}' for usage`);
  });

  it('a bad --port of dev s3 is a usage error that names the option', async () => {
    const r = await catwalk(['dev', 's3', '--port', 'http']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--port 'http' is not a port number");
  });
});
