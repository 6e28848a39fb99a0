// catwalk generate: the sidecar image and environment options, and the load
// balancer group report with its refusals.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { catwalk, repoRoot, tempDir } from './run';

const examples = path.join(repoRoot, 'examples/models');

function specsDir(specs: Record<string, (spec: any) => void>): string {
  const dir = tempDir();
  fs.mkdirSync(path.join(dir, 'models'));
  for (const [name, change] of Object.entries(specs)) {
    const spec = parse(fs.readFileSync(path.join(examples, 'image-tagger.yaml'), 'utf8'));
    spec.metadata.name = name;
    change(spec);
    fs.writeFileSync(path.join(dir, 'models', `${name}.yaml`), JSON.stringify(spec));
  }
  return dir;
}

const values = (dir: string, model: string) =>
  parse(fs.readFileSync(path.join(dir, 'charts', model, 'values.yaml'), 'utf8'));

describe('catwalk generate options', () => {
  it('--sync-image sets the sidecar image of every chart (e.g. an ECR mirror); the default is GHCR', async () => {
    const dir = tempDir();
    const mirror = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/catwalk/model-sync:0.1.0';
    const r = await catwalk(['generate', examples, '--out', 'charts', '--sync-image', mirror], { cwd: dir });
    expect(r.code).toBe(0);
    expect(values(dir, 'pricing').sync.image).toMatchObject({
      registry: '123456789012.dkr.ecr.eu-west-1.amazonaws.com',
      repository: 'catwalk/model-sync',
      tag: '0.1.0',
    });
    const plain = tempDir();
    await catwalk(['generate', examples, '--out', 'charts'], { cwd: plain });
    expect(values(plain, 'pricing').sync.image).toMatchObject({
      registry: 'ghcr.io',
      repository: 'catwalk-dev/model-sync',
      tag: '0.1.0',
    });
  });

  it('a malformed --sync-image is refused, naming the option', async () => {
    const r = await catwalk(['generate', examples, '--out', 'charts', '--sync-image', 'Bad Image'], {
      cwd: tempDir(),
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--sync-image');
  });

  it('--environment names the environment and its default load balancer group', async () => {
    const dir = tempDir();
    const r = await catwalk(['generate', examples, '--out', 'charts', '--environment', 'prod'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(values(dir, 'pricing').environment).toBe('prod');
    expect(r.stdout).toContain('catwalk-prod');
  });

  it('reports each load balancer group with its models, target groups and rules', async () => {
    const r = await catwalk(['generate', examples, '--out', 'charts'], { cwd: tempDir() });
    // fraud-check (REST+gRPC: 2 TG, 2 rules), image-tagger (1, 1), pricing (A/B and gRPC: 4, 10).
    expect(r.stdout).toMatch(/catwalk-default\s+3\s+7\/100\s+13\/100/);
  });

  it('refuses specs of one group that disagree on an ALB-wide setting, writing nothing', async () => {
    const dir = specsDir({
      a: () => {},
      b: (s) => {
        s.spec.endpoint.scheme = 'internet-facing';
      },
    });
    const r = await catwalk(['generate', 'models', '--out', 'charts'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('disagree on spec.endpoint.scheme: internal (a) vs internet-facing (b)');
    expect(r.stderr).toContain('spec.endpoint.group');
    expect(fs.existsSync(path.join(dir, 'charts'))).toBe(false);
  });

  it('refuses a group over the ALB limits; --rules-quota takes only a raised quota', async () => {
    const specs = Object.fromEntries(
      Array.from({ length: 101 }, (_, i) => [`m${i}`, () => {}] as [string, (s: any) => void]),
    );
    const dir = specsDir(specs);
    const r = await catwalk(['generate', 'models', '--out', 'charts'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('needs 101 target groups; an ALB holds 100');
    const low = await catwalk(['generate', 'models', '--out', 'charts', '--rules-quota', '50'], { cwd: dir });
    expect(low.code).toBe(2);
    expect(low.stderr).toContain("--rules-quota '50'");
  });
});
