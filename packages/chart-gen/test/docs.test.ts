// NOTES, README and Chart.yaml: what an operator reads must be true of what
// is installed.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { generateChart } from '../src';
import { chartDir, exampleModel, helm } from './support/helm';

const notes = (dir: string, release: string, args: string[] = []) => {
  const result = helm(['install', release, dir, '--dry-run=client', '--namespace', 'models', ...args]);
  expect(result.status).toBe(0);
  return result.stdout.slice(result.stdout.indexOf('NOTES:'));
};

describe('NOTES', () => {
  const pricing = chartDir(exampleModel('pricing'));

  it('name the Service the release really creates (release-model), with its namespace', () => {
    const text = notes(pricing, 'shop');
    expect(text).toContain('http://shop-pricing.models.svc:8501/v1/models/pricing');
    expect(text).toContain('shop-pricing.models.svc:8500');
    expect(text).toContain('https://models.example.com/v1/models/pricing');
  });

  it('follow overridden ports and the A/B weights', () => {
    const text = notes(pricing, 'pricing', [
      '--set',
      'service.httpPort=9000',
      '--set',
      'service.grpcPort=9001',
    ]);
    expect(text).toContain('http://pricing.models.svc:9000/v1/models/pricing');
    expect(text).toContain('90% of unaddressed requests to version 3 (stable, Service pricing)');
  });
});

describe('README', () => {
  it('says the predict input is an example and where the real signature is', () => {
    const readme = generateChart(exampleModel('image-tagger')).find((f) => f.path === 'README.md')!.contents;
    expect(readme).toContain('The input name and shape below are an example');
    expect(readme).toContain('/metadata');
  });
});

describe('Chart.yaml', () => {
  const version = (model = exampleModel('pricing'), options = {}) =>
    parse(generateChart(model, options).find((f) => f.path === 'Chart.yaml')!.contents).version as string;

  it('changes version when the spec changes, and only then', () => {
    const pricing = exampleModel('pricing');
    expect(version(pricing)).toBe(version(exampleModel('pricing')));
    const changed = { ...pricing, description: 'Dynamic pricing for rides and deliveries' };
    expect(version(changed)).not.toBe(version(pricing));
    expect(version(pricing)).toMatch(/^0\.1\.0\+[a-f0-9]{12}$/);
  });

  it('changes version with generate options (environment, sidecar image)', () => {
    expect(version(undefined, { environment: 'prod' })).not.toBe(version());
    expect(version(undefined, { syncImage: 'example.com/mirror/model-sync:0.1.0' })).not.toBe(version());
  });

  it('the version is valid SemVer for helm package', () => {
    const dir = chartDir(exampleModel('pricing'));
    const out = fs.mkdtempSync(path.join(path.dirname(dir), 'pkg-'));
    const result = helm(['package', dir, '--destination', out]);
    expect(result.status).toBe(0);
    expect(fs.readdirSync(out)[0]).toMatch(/^pricing-0\.1\.0\+[a-f0-9]{12}\.tgz$/);
  });
});
