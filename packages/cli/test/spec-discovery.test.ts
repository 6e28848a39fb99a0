// Folders given to validate, generate and the other spec commands are searched
// for spec files only: YAML or JSON whose top level says `apiVersion: catwalk/...`
// or `kind: Model`. Generated charts, s3rver's metadata and other YAML/JSON
// living next to the specs are skipped without a word.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { catwalk, repoRoot, tempDir } from './run';

function project(): string {
  const dir = tempDir();
  fs.mkdirSync(path.join(dir, 'proj'));
  fs.copyFileSync(
    path.join(repoRoot, 'examples/models/pricing.yaml'),
    path.join(dir, 'proj', 'pricing.yaml'),
  );
  return dir;
}

describe('spec discovery in folders', () => {
  it('generates into a folder below the specs twice: the second run does not read the first run’s charts', async () => {
    const dir = project();
    const first = await catwalk(['generate', 'proj', '--out', 'proj/charts'], { cwd: dir });
    expect(first.code).toBe(0);
    expect(fs.existsSync(path.join(dir, 'proj/charts/pricing/Chart.yaml'))).toBe(true);

    const again = await catwalk(['generate', 'proj', '--out', 'proj/charts'], { cwd: dir });
    expect({ code: again.code, stderr: again.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    expect(again.stderr).not.toContain('error');

    const validate = await catwalk(['validate', 'proj'], { cwd: dir });
    expect(validate.code).toBe(0);
    expect(validate.stdout).toContain('1 of 1 spec file valid; 0 errors, 0 warnings');
  });

  it('skips YAML and JSON that are not specs (an embedded S3 data folder, a values file)', async () => {
    const dir = project();
    const meta = path.join(
      dir,
      'proj/s3/catwalk-models/marketplace/pricing/1/saved_model.pb._S3rver_metadata.json',
    );
    fs.mkdirSync(path.dirname(meta), { recursive: true });
    fs.writeFileSync(meta, JSON.stringify({ 'content-type': 'application/octet-stream', etag: '"x"' }));
    fs.writeFileSync(path.join(dir, 'proj/values.yaml'), 'replicaCount: 2\nimage: { tag: "1" }\n');
    fs.writeFileSync(path.join(dir, 'proj/notes.json'), '[1, 2');

    const r = await catwalk(['validate', 'proj'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('✓ proj/pricing.yaml (pricing)');
    expect(r.stdout).toContain('1 of 1 spec file valid');
  });

  it('still checks files that try to be specs, a wrong apiVersion or broken YAML included', async () => {
    const r = await catwalk(['validate', 'examples/invalid']);
    const files = fs.readdirSync(path.join(repoRoot, 'examples/invalid')).filter((f) => f.endsWith('.yaml'));
    // every top-level file plus the two of duplicate-names/
    expect(r.stdout).toContain(`0 of ${files.length + 2} spec files valid`);
  });

  it('finds specs written in flow style or as JSON, whatever the extension', async () => {
    const dir = tempDir();
    const spec = { apiVersion: 'catwalk/v1', kind: 'Model', metadata: { name: 'a', team: 't' } };
    fs.writeFileSync(
      path.join(dir, 'a.yaml'),
      JSON.stringify({ ...spec, spec: { source: { uri: 's3://b-1/t/a' } } }),
    );
    fs.writeFileSync(
      path.join(dir, 'b.json'),
      JSON.stringify(
        { ...spec, metadata: { name: 'b', team: 't' }, spec: { source: { uri: 's3://b-1/t/b' } } },
        null,
        2,
      ),
    );
    fs.writeFileSync(
      path.join(dir, 'c.yml'),
      '{kind: Model, apiVersion: catwalk/v1, metadata: {name: c, team: t}, spec: {source: {uri: "s3://b-1/t/c"}}}\n',
    );
    const r = await catwalk(['validate', '.'], { cwd: dir });
    expect(r.stdout).toContain('3 of 3 spec files valid');
  });

  it('names a file given explicitly even when it is not a spec', async () => {
    const dir = project();
    fs.writeFileSync(path.join(dir, 'values.yaml'), 'replicaCount: 2\n');
    const r = await catwalk(['validate', 'values.yaml'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('values.yaml');
  });

  it('says what a spec file is when a folder holds none', async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'values.yaml'), 'replicaCount: 2\n');
    const r = await catwalk(['validate', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no spec files');
    expect(r.stderr).toContain('apiVersion: catwalk/v1');
    expect(r.stderr).toContain('kind: Model');
  });
});
