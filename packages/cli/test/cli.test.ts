import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { modelJsonSchema, modelsConfig, validateSpecText } from '@catwalk/schema';
import { catwalk, repoRoot, tempDir } from './run';

const invalidFiles = fs
  .readdirSync(path.join(repoRoot, 'examples/invalid'))
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => `examples/invalid/${f}`);

const warningSpec = `apiVersion: catwalk/v1
kind: Model
metadata: { name: labelled, team: search }
spec:
  source: { uri: s3://catwalk-models/search/labelled }
  serving: { versionLabels: { stable: 1 } }
`;

describe('catwalk validate', () => {
  it('accepts the bundled examples', async () => {
    const r = await catwalk(['validate', 'examples/models']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('✓ examples/models/pricing.yaml (pricing)');
    expect(r.stdout).toContain('3 of 3 spec files valid; 0 errors, 0 warnings');
    expect(r.stderr).toBe('');
  });

  it.each(invalidFiles)('exits 1 for %s, naming the file, line, field and fix', async (file) => {
    const r = await catwalk(['validate', file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`✗ ${file}`);
    expect(r.stdout).toMatch(new RegExp(`${file.replace(/[.]/g, '\\.')}:\\d+:\\d+: error: `));
    expect(r.stdout).toContain('fix: ');
    expect(r.stdout + r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('checks a folder as a whole: duplicate names fail', async () => {
    const r = await catwalk(['validate', 'examples/invalid/duplicate-names']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(
      "model name 'recommender' is also used by examples/invalid/duplicate-names/b.yaml",
    );
  });

  it('prints a machine-readable report with --json', async () => {
    const r = await catwalk([
      'validate',
      '--json',
      'examples/models/pricing.yaml',
      'examples/invalid/label-not-served.yaml',
    ]);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout);
    expect(report.valid).toBe(false);
    expect(report.files).toEqual([
      { file: 'examples/models/pricing.yaml', valid: true, model: 'pricing', diagnostics: [] },
      {
        file: 'examples/invalid/label-not-served.yaml',
        valid: false,
        diagnostics: [
          expect.objectContaining({
            code: 'label-not-served',
            path: 'spec.serving.versionLabels.canary',
            line: 13,
            column: 41,
          }),
        ],
      },
    ]);
  });

  it('passes warnings, and fails them with --strict', async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'labelled.yaml'), warningSpec);
    const lenient = await catwalk(['validate', 'labelled.yaml'], { cwd: dir });
    expect(lenient.code).toBe(0);
    expect(lenient.stdout).toContain('warning: spec.serving.versionLabels.stable');
    expect((await catwalk(['validate', '--strict', 'labelled.yaml'], { cwd: dir })).code).toBe(1);
  });

  it('exits 2 on usage errors', async () => {
    for (const args of [
      ['validate'],
      ['validate', 'missing.yaml'],
      ['validate', '--nope', 'x'],
      ['frobnicate'],
      ['explain'],
    ]) {
      const r = await catwalk(args);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr.length).toBeGreaterThan(0);
    }
    expect((await catwalk(['validate', 'missing.yaml'])).stderr).toBe(
      "catwalk: cannot read 'missing.yaml': no such file or directory\n",
    );
  });

  it('exits 2 for a folder without specs', async () => {
    const r = await catwalk(['validate', tempDir()]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no spec files in .*apiVersion: catwalk\/v1/);
  });

  it('colours output only when asked', async () => {
    expect(
      (await catwalk(['validate', 'examples/invalid/image-latest.yaml'], { color: true })).stdout,
    ).toContain('\u001b[');
    expect(
      (await catwalk(['validate', 'examples/invalid/image-latest.yaml'], { color: false })).stdout,
    ).not.toContain('\u001b[');
    expect(
      (await catwalk(['--no-color', 'validate', 'examples/invalid/image-latest.yaml'], { color: true }))
        .stdout,
    ).not.toContain('\u001b[');
  });
});

describe('help and version', () => {
  it.each(['init', 'validate', 'explain', 'render', 'generate', 'schema'])(
    'catwalk %s --help shows examples and exits 0',
    async (command) => {
      const r = await catwalk([command, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`Usage: catwalk ${command}`);
      expect(r.stdout).toContain('Examples:');
    },
  );

  it('prints the version', async () => {
    const r = await catwalk(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(
      JSON.parse(fs.readFileSync(path.join(repoRoot, 'packages/cli/package.json'), 'utf8')).version,
    );
  });
});

describe('catwalk explain', () => {
  it('prints the resolved model, the TF Serving files and the arguments', async () => {
    const r = await catwalk(['explain', 'examples/models/pricing.yaml']);
    expect(r.code).toBe(0);
    for (const part of [
      '# resolved model',
      'stableWeight: 90',
      '# models.config',
      'model_config_list {',
      '# batching.config',
      '# monitoring.config',
      '--allow_version_labels_for_unavailable_models',
    ]) {
      expect(r.stdout).toContain(part);
    }
  });

  it('prints JSON with --json', async () => {
    const r = await catwalk(['explain', '--json', 'examples/models/pricing.yaml']);
    const out = JSON.parse(r.stdout);
    const model = validateSpecText({
      file: 'x',
      text: fs.readFileSync(path.join(repoRoot, 'examples/models/pricing.yaml'), 'utf8'),
    }).model!;
    expect(out.model).toEqual(model);
    expect(out.files[0]).toEqual({ name: 'models.config', contents: modelsConfig(model) });
    expect(out.args[0]).toBe('--port=8500');
  });

  it('refuses an invalid spec with its diagnostics', async () => {
    const r = await catwalk(['explain', 'examples/invalid/canary-not-served.yaml']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('canary version 5 is not served');
    expect(r.stderr).toContain('catwalk: 1 spec file is invalid; nothing was written');
  });
});

describe('catwalk schema', () => {
  it('prints the JSON Schema shipped with @catwalk/schema', async () => {
    const r = await catwalk(['schema']);
    expect(JSON.parse(r.stdout)).toEqual(modelJsonSchema());
    expect(r.stdout).toBe(
      fs.readFileSync(path.join(repoRoot, 'packages/schema/schema/model.schema.json'), 'utf8'),
    );
  });

  it('writes it to a file with --out', async () => {
    const dir = tempDir();
    expect((await catwalk(['schema', '--out', 'nested/model.schema.json'], { cwd: dir })).code).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'nested/model.schema.json'), 'utf8')).$id).toBe(
      'urn:catwalk:schema:model:v1',
    );
  });
});

describe('catwalk init', () => {
  it('writes a commented spec that validates, and refuses to overwrite it', async () => {
    const dir = tempDir();
    const r = await catwalk(['init', 'pricing', '--team', 'marketplace'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('created pricing.yaml');
    const text = fs.readFileSync(path.join(dir, 'pricing.yaml'), 'utf8');
    expect(text).toContain('# ');
    const result = validateSpecText({ file: 'pricing.yaml', text });
    expect(result.diagnostics).toEqual([]);
    expect(result.model).toMatchObject({
      name: 'pricing',
      team: 'marketplace',
      source: { uri: 's3://catwalk-models/marketplace/pricing' },
    });

    fs.appendFileSync(path.join(dir, 'pricing.yaml'), '# my edit\n');
    const again = await catwalk(['init', 'pricing'], { cwd: dir });
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(
      'catwalk: pricing.yaml already exists; not overwriting it (use --force to replace it)\n',
    );
    expect(fs.readFileSync(path.join(dir, 'pricing.yaml'), 'utf8')).toContain('# my edit');

    expect((await catwalk(['init', 'pricing', '--force'], { cwd: dir })).code).toBe(0);
    expect(fs.readFileSync(path.join(dir, 'pricing.yaml'), 'utf8')).not.toContain('# my edit');
  });

  it('takes a source and a folder', async () => {
    const dir = tempDir();
    const r = await catwalk(
      ['init', 'fraud', '--team', 'payments', '--source', 's3://ml-models/pay/fraud', '--dir', 'specs'],
      { cwd: dir },
    );
    expect(r.code).toBe(0);
    const text = fs.readFileSync(path.join(dir, 'specs/fraud.yaml'), 'utf8');
    expect(validateSpecText({ file: 'f', text }).model?.source.uri).toBe('s3://ml-models/pay/fraud');
  });

  it('refuses names and sources that would make an invalid spec, and writes nothing', async () => {
    const dir = tempDir();
    const bad = await catwalk(['init', 'Bad_Name'], { cwd: dir });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('metadata.name');
    const badSource = await catwalk(['init', 'ok', '--source', 's3://No_Such/x'], { cwd: dir });
    expect(badSource.code).toBe(2);
    expect(badSource.stderr).toContain('spec.source.uri');
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});

describe('catwalk render', () => {
  it("prints the summary table and writes each model's TF Serving files", async () => {
    const dir = tempDir();
    const r = await catwalk(['render', path.join(repoRoot, 'examples/models'), '--out', 'out'], { cwd: dir });
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    const header = lines.find((l) => l.startsWith('MODEL'))!;
    expect(header.split(/\s{2,}/)).toEqual([
      'MODEL',
      'TEAM',
      'VERSIONS (LABELS)',
      'A/B',
      'REPLICAS',
      'CPU/MEMORY',
      'ENDPOINT',
    ]);
    const pricing = lines.find((l) => l.startsWith('pricing'))!.split(/\s{2,}/);
    expect(pricing).toEqual([
      'pricing',
      'marketplace',
      '3,4 (canary=4 stable=3)',
      '4@10%',
      '2-20',
      '2/4Gi',
      'models.example.com/v1/models/pricing +grpc',
    ]);
    const tagger = lines.find((l) => l.startsWith('image-tagger'))!.split(/\s{2,}/);
    expect(tagger).toEqual([
      'image-tagger',
      'catalog',
      'latest 2',
      '-',
      '2-4',
      '4/16Gi +1gpu',
      'models.example.com/v1/models/image-tagger',
    ]);

    const model = validateSpecText({
      file: 'x',
      text: fs.readFileSync(path.join(repoRoot, 'examples/models/pricing.yaml'), 'utf8'),
    }).model!;
    expect(fs.readFileSync(path.join(dir, 'out/pricing/models.config'), 'utf8')).toBe(modelsConfig(model));
    expect(fs.readdirSync(path.join(dir, 'out/pricing')).sort()).toEqual([
      'batching.config',
      'models.config',
      'monitoring.config',
      'resolved.json',
      'tfserving.args',
    ]);
    expect(fs.readdirSync(path.join(dir, 'out/fraud-check')).sort()).toEqual([
      'models.config',
      'monitoring.config',
      'resolved.json',
      'tfserving.args',
    ]);
    expect(fs.readFileSync(path.join(dir, 'out/pricing/tfserving.args'), 'utf8').split('\n')[0]).toBe(
      '--port=8500',
    );
  });

  it('writes nothing when any spec is invalid', async () => {
    const dir = tempDir();
    const r = await catwalk(
      [
        'render',
        path.join(repoRoot, 'examples/models'),
        path.join(repoRoot, 'examples/invalid/image-latest.yaml'),
        '--out',
        'out',
      ],
      { cwd: dir },
    );
    expect(r.code).toBe(1);
    expect(fs.existsSync(path.join(dir, 'out'))).toBe(false);
  });
});

describe('the installed bin', () => {
  const bin = path.join(repoRoot, 'packages/cli/bin/catwalk.js');
  const exec = (...args: string[]) =>
    spawnSync(process.execPath, [bin, ...args], {
      cwd: repoRoot,
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1' },
    });

  it('runs the built CLI with real exit codes and no stack traces', () => {
    const ok = exec('validate', 'examples/models');
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain('3 of 3 spec files valid');
    const invalid = exec('validate', 'examples/invalid');
    expect(invalid.status).toBe(1);
    expect(invalid.stdout).not.toMatch(/\n\s+at /);
    const usage = exec('validate');
    expect(usage.status).toBe(2);
  });
});

describe('catwalk generate', () => {
  it('writes a chart per model, and --check passes on them', async () => {
    const dir = tempDir();
    const r = await catwalk(['generate', path.join(repoRoot, 'examples/models'), '--out', 'charts'], {
      cwd: dir,
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/wrote 3 charts \(\d+ files\) to charts\//);
    expect(fs.readdirSync(path.join(dir, 'charts')).sort()).toEqual([
      'fraud-check',
      'image-tagger',
      'pricing',
    ]);
    expect(fs.existsSync(path.join(dir, 'charts/pricing/templates/deployment.yaml'))).toBe(true);
    const check = await catwalk(
      ['generate', path.join(repoRoot, 'examples/models'), '--out', 'charts', '--check'],
      { cwd: dir },
    );
    expect(check.code).toBe(0);
    expect(check.stdout).toContain('charts is up to date: 3 charts');
  });

  it('--check exits 1 with a diff for changed, missing and stale files, and writes nothing', async () => {
    const dir = tempDir();
    const specs = path.join(repoRoot, 'examples/models');
    await catwalk(['generate', specs, '--out', 'charts'], { cwd: dir });
    fs.appendFileSync(path.join(dir, 'charts/pricing/values.yaml'), '# hand edit\n');
    fs.rmSync(path.join(dir, 'charts/fraud-check/README.md'));
    fs.writeFileSync(path.join(dir, 'charts/pricing/templates/old.yaml'), 'kind: Old\n');
    const r = await catwalk(['generate', specs, '--out', 'charts', '--check'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('--- a/pricing/values.yaml');
    expect(r.stdout).toContain('-# hand edit');
    expect(r.stdout).toContain('missing  charts/fraud-check/README.md');
    expect(r.stdout).toContain('stale    charts/pricing/templates/old.yaml');
    expect(r.stderr).toContain('3 files are out of date in charts; regenerate with: catwalk generate');
    expect(fs.readFileSync(path.join(dir, 'charts/pricing/values.yaml'), 'utf8')).toContain('# hand edit');
  });

  it('regenerating removes files no longer generated, but never touches folders it did not write', async () => {
    const dir = tempDir();
    const specs = path.join(repoRoot, 'examples/models');
    fs.mkdirSync(path.join(dir, 'charts/hand-made'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'charts/hand-made/Chart.yaml'), 'name: hand-made\n');
    await catwalk(['generate', specs, '--out', 'charts'], { cwd: dir });
    fs.writeFileSync(path.join(dir, 'charts/pricing/templates/old.yaml'), 'kind: Old\n');
    const r = await catwalk(['generate', specs, '--out', 'charts'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(fs.existsSync(path.join(dir, 'charts/pricing/templates/old.yaml'))).toBe(false);
    expect(fs.readFileSync(path.join(dir, 'charts/hand-made/Chart.yaml'), 'utf8')).toBe('name: hand-made\n');
  });

  it('warns about a generated chart whose spec is gone, without deleting it', async () => {
    const dir = tempDir();
    await catwalk(['generate', path.join(repoRoot, 'examples/models'), '--out', 'charts'], { cwd: dir });
    const r = await catwalk(
      ['generate', path.join(repoRoot, 'examples/models/pricing.yaml'), '--out', 'charts'],
      { cwd: dir },
    );
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(
      'warning: charts/fraud-check is a generated chart with no spec among the inputs',
    );
    expect(fs.existsSync(path.join(dir, 'charts/fraud-check/Chart.yaml'))).toBe(true);
  });

  it('the committed charts/ are what examples/models generate', async () => {
    const r = await catwalk(['generate', 'examples/models', '--out', 'charts', '--check']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});
