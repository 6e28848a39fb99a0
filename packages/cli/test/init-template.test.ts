// What a newcomer does with the spec `catwalk init` writes: uncomment the
// commented lines one by one. Each step must still validate without warnings.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { validateSpecText } from '@catwalk/schema';
import { catwalk, tempDir } from './run';

async function initSpec(): Promise<{ dir: string; file: string; text: string }> {
  const dir = tempDir();
  const r = await catwalk(['init', 'pricing', '--team', 'marketplace'], { cwd: dir });
  expect(r.code).toBe(0);
  const file = path.join(dir, 'pricing.yaml');
  return { dir, file, text: fs.readFileSync(file, 'utf8') };
}

/** Removes the leading `# ` of the commented line that starts with `key:`. */
function uncomment(text: string, key: string): string {
  const pattern = new RegExp(`^(\\s*)# (${key}:.*)$`, 'm');
  expect(text).toMatch(pattern);
  return text.replace(pattern, '$1$2');
}

describe('catwalk init template', () => {
  it('derives the replica counts from traffic once it is uncommented, without a warning', async () => {
    const { text } = await initSpec();
    const withTraffic = uncomment(text, 'traffic').replace(
      /traffic: \{[^}]*\}/,
      'traffic: { expectedPeakRps: 800, replicaRps: 100 }',
    );
    const result = validateSpecText({ file: 'pricing.yaml', text: withTraffic });
    expect(result.diagnostics).toEqual([]);
    // ceil(800 / (100 * 0.7)) = 12 pods at peak; a quarter of them warm.
    expect(result.model?.scaling).toMatchObject({ minReplicas: 3, maxReplicas: 12 });
  });

  it('says in the template that scaling follows from traffic and that explicit counts win', async () => {
    const { text } = await initSpec();
    expect(text).toMatch(/#.*traffic/);
    expect(text).not.toMatch(/^\s+minReplicas:/m); // no uncommented fixed counts
    const withScaling = uncomment(text, 'scaling');
    const result = validateSpecText({ file: 'pricing.yaml', text: withScaling });
    expect(result.diagnostics).toEqual([]);
  });

  it('every optional line, uncommented alone, still validates', async () => {
    const { text } = await initSpec();
    const keys = [...text.matchAll(/^\s*# ([a-zA-Z]+): /gm)]
      .map((m) => m[1]!)
      // versionLabels and experiment name what they need next to them (a specific policy, a stable label)
      .filter((k) => !['versionLabels', 'experiment'].includes(k));
    expect(keys).toEqual(expect.arrayContaining(['traffic', 'scaling', 'labels']));
    for (const key of keys) {
      const result = validateSpecText({ file: 'pricing.yaml', text: uncomment(text, key) });
      expect({ key, errors: result.diagnostics.filter((d) => d.severity === 'error') }).toEqual({
        key,
        errors: [],
      });
    }
  });

  it('writes traffic from --peak-rps and --replica-rps, and the replica counts follow from it', async () => {
    const dir = tempDir();
    const r = await catwalk(['init', 'pricing', '--peak-rps', '800', '--replica-rps', '100'], { cwd: dir });
    expect(r.code).toBe(0);
    const text = fs.readFileSync(path.join(dir, 'pricing.yaml'), 'utf8');
    expect(text).toMatch(/^ {2}traffic: \{ expectedPeakRps: 800, replicaRps: 100 \}/m);
    const result = validateSpecText({ file: 'pricing.yaml', text });
    expect(result.diagnostics).toEqual([]);
    expect(result.model?.scaling).toMatchObject({ minReplicas: 3, maxReplicas: 12 });
  });

  it('refuses one of --peak-rps and --replica-rps without the other, or a non-number', async () => {
    const dir = tempDir();
    const half = await catwalk(['init', 'pricing', '--peak-rps', '800'], { cwd: dir });
    expect(half.code).toBe(2);
    expect(half.stderr).toContain('--replica-rps');
    const nan = await catwalk(['init', 'pricing', '--peak-rps', 'lots', '--replica-rps', '10'], { cwd: dir });
    expect(nan.code).toBe(2);
    expect(nan.stderr).toContain("--peak-rps 'lots'");
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});
