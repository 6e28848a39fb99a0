import * as path from 'node:path';
import { modelsConfig, resolve, validateSpecText } from '@catwalk/schema';
import {
  initialFromConfig,
  initialState,
  parseManifest,
  planPrune,
  planRelease,
  planRollback,
  planSync,
  renderModelsConfig,
  savedModelProblems,
  unsafePathProblem,
  type VersionInfo,
} from '../src';
import { safeJoin } from '../src/sync';
import { repoRoot } from './helpers';

describe('SavedModel checks', () => {
  it('names what is missing', () => {
    expect(savedModelProblems(['export', 'export.meta', 'checkpoint'])).toEqual([
      expect.stringContaining('no saved_model.pb or saved_model.pbtxt at its root'),
    ]);
    expect(savedModelProblems(['saved_model.pb', 'variables/variables.data-00000-of-00001'])).toEqual([
      expect.stringContaining('variables/ has no variables.index'),
    ]);
    expect(
      savedModelProblems([
        'saved_model.pbtxt',
        'variables/variables.index',
        'variables/variables.data-00001-of-00002',
      ]),
    ).toEqual([expect.stringContaining('missing data shard variables.data-00000-of-00002')]);
    expect(savedModelProblems(['saved_model.pb'])).toEqual([]); // no variables/ at all is fine
  });
});

describe('paths from manifests', () => {
  it.each([
    ['../x', "'..'"],
    ['a/../../x', "'..'"],
    ['/etc/passwd', 'absolute'],
    ['C:/x', 'absolute'],
    ['a\\b', 'backslash'],
    ['a//b', 'empty'],
    ['./a', "'.'"],
  ])('refuses %s', (p, why) => {
    expect(unsafePathProblem(p)).toContain(why);
    expect(() => safeJoin('/models/m/.tmp', p)).toThrow(/refused to write/);
  });

  it('accepts ordinary paths and keeps them inside the folder', () => {
    expect(unsafePathProblem('variables/variables.index')).toBeUndefined();
    expect(safeJoin('/d', 'assets/a..b.txt')).toBe(path.join('/d', 'assets', 'a..b.txt'));
  });

  it('refuses a manifest that does not add up, naming the field', () => {
    const base = {
      format: 'catwalk.manifest/v1',
      model: 'm',
      version: 1,
      files: [{ path: 'saved_model.pb', size: 3, sha256: 'a'.repeat(64) }],
      totalBytes: 3,
      fingerprint: 'f',
      pushedAt: 't',
      pushedBy: 'u',
      pushId: 'p',
      tool: 'catwalk',
    };
    expect(parseManifest(JSON.stringify(base), 'm.json').version).toBe(1);
    expect(() => parseManifest('{', 'm.json')).toThrow('m.json is not valid JSON');
    expect(() => parseManifest(JSON.stringify({ ...base, totalBytes: 4 }), 'm.json')).toThrow("'totalBytes'");
    expect(() =>
      parseManifest(
        JSON.stringify({ ...base, files: [{ path: '../x', size: 3, sha256: 'a'.repeat(64) }] }),
        'm.json',
      ),
    ).toThrow("m.json: 'files[0].path' is a '..' segment");
  });
});

const state = (serve: number[], labels: Record<string, number> = {}) => ({ serve, labels });

describe('release decisions', () => {
  const complete = new Set([1, 2, 3, 4]);

  it('applies the spec policy before the first release', () => {
    expect(
      initialState({ versionPolicy: { kind: 'latest', count: 2 }, versionLabels: {} }, [1, 5, 3]),
    ).toEqual(state([3, 5]));
    expect(initialState({ versionPolicy: { kind: 'all' }, versionLabels: { stable: 1 } }, [2, 1])).toEqual(
      state([1, 2], { stable: 1 }),
    );
  });

  it('serves labelled versions, refuses incomplete ones and labels on unserved versions', () => {
    expect(planRelease(state([3]), { labels: { canary: 4 } }, complete)).toEqual(
      state([3, 4], { canary: 4 }),
    );
    expect(() => planRelease(state([3]), { serve: [5] }, complete)).toThrow('version 5 is not complete');
    expect(() => planRelease(state([3, 4], { canary: 4 }), { serve: [3] }, complete)).toThrow(
      'label canary=4 points at a version that is not served; add 4 to --serve',
    );
    expect(() => planRelease(state([3]), {}, complete)).toThrow('nothing to release');
  });

  it('rolls back to the previous stable and stops serving the bad version', () => {
    const current = state([3, 4], { canary: 4, stable: 4 });
    expect(planRollback(current, [state([3, 4], { stable: 3, canary: 4 })], complete)).toEqual({
      state: state([3], { stable: 3 }),
      from: 4,
      to: 3,
    });
    expect(planRollback(current, [], complete, 2).state).toEqual(state([2, 3], { stable: 2 }));
    expect(() => planRollback(state([1], { stable: 1 }), [], complete)).toThrow(
      'no complete version to roll back to',
    );
  });

  it('prunes beyond keep, never what is served or labelled', () => {
    const v = (version: number, s: VersionInfo['state'] = 'complete') =>
      ({ version, state: s, storedBytes: 1, keys: [] }) as VersionInfo;
    const versions = [v(1), v(2), v(3, 'corrupt'), v(4), v(5, 'incomplete'), v(6)];
    expect(planPrune(versions, state([2], { stable: 2 }), 1)).toEqual([1, 3, 4]);
    expect(planPrune(versions, state([1]), 3)).toEqual([3]);
  });
});

describe('sync plan', () => {
  it('downloads again a local folder whose identity differs, and skips a version that failed verification', () => {
    const plan = planSync({
      state: state([1, 2, 3]),
      track: 'all',
      available: new Set([1, 2, 3]),
      local: [1, 2],
      stale: new Set([2]),
      failed: new Map([[3, 'saved_model.pb: sha256 differs']]),
    });
    expect(plan).toEqual({
      wanted: [1, 2, 3],
      download: [2],
      replace: [2],
      remove: [],
      missing: [{ version: 3, reason: 'version 3 failed verification: saved_model.pb: sha256 differs' }],
    });
    // Only the failed version is wanted: nothing is removed, the old one keeps serving.
    expect(
      planSync({
        state: state([3]),
        track: 'all',
        available: new Set([1, 3]),
        local: [1],
        failed: new Map([[3, 'bad']]),
      }),
    ).toMatchObject({ download: [], remove: [] });
  });

  it('downloads what is missing, removes only once a wanted version is there', () => {
    expect(
      planSync({ state: state([2, 3]), track: 'all', available: new Set([1, 2, 3]), local: [1, 2] }),
    ).toEqual({
      wanted: [2, 3],
      download: [3],
      replace: [],
      remove: [1],
      missing: [],
    });
    // The wanted version is not in S3: keep serving what is there.
    const stuck = planSync({ state: state([9]), track: 'all', available: new Set([1]), local: [1] });
    expect(stuck).toMatchObject({
      download: [],
      remove: [],
      missing: [{ version: 9, reason: 'version 9 is not complete in S3' }],
    });
    expect(
      planSync({
        state: state([1, 2], { canary: 2 }),
        track: 'canary',
        available: new Set([1, 2]),
        local: [1],
      }),
    ).toEqual({ wanted: [2], download: [2], replace: [], remove: [1], missing: [] });
  });
});

describe('the live models.config', () => {
  const spec = validateSpecText({
    file: 'pricing.yaml',
    text: require('node:fs').readFileSync(path.join(repoRoot, 'examples/models/pricing.yaml'), 'utf8'),
  });
  const model = resolve(spec.spec!);

  it('is modelsConfig for the release when the spec is at hand', () => {
    const text = renderModelsConfig({ kind: 'model', model }, { versions: [3], labels: { stable: 3 } });
    expect(text).toBe(
      modelsConfig(model, {
        versionPolicy: { kind: 'specific', versions: [3] },
        versionLabels: { stable: 3 },
      }),
    );
  });

  it('patches the generated template the same way, keeping its other fields', () => {
    const source = {
      kind: 'template' as const,
      file: 'models.config',
      modelName: 'pricing',
      text: modelsConfig(model),
    };
    expect(initialFromConfig(source)).toEqual({
      versionPolicy: { kind: 'specific', versions: [3, 4] },
      versionLabels: { canary: 4, stable: 3 },
    });
    const fromTemplate = renderModelsConfig(source, { versions: [3], labels: { stable: 3 } });
    const fromModel = renderModelsConfig({ kind: 'model', model }, { versions: [3], labels: { stable: 3 } });
    const body = (t: string) => t.replace(/^#.*\n/gm, '');
    expect(body(fromTemplate)).toBe(body(fromModel));
    expect(() =>
      renderModelsConfig({ ...source, text: 'model_config_list {' }, { versions: [1], labels: {} }),
    ).toThrow('models.config: not a models.config in protobuf text format');
  });
});
